"""HTTP/1.1 on ``asyncio.Protocol``: the listener the app calls in on.

- ``request_parser``: sans-I/O request parsing (head, Content-Length / chunked bodies, limits, refusals).
- ``messages``: ``Request`` (what a handler gets), ``Response`` and ``StreamResponse`` (what it returns).
- ``server``: ``HTTPServer`` (accept, keep-alive, pipelining, disconnect -> cancel, drain) and its
  connections.

The upstream client is ``sidecar.upstream`` (aiohttp's ``ClientSession``).
"""
