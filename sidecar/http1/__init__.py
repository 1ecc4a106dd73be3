"""HTTP/1.1 on ``asyncio.Protocol``, both ends of the request path: the listener the app calls in on,
and the client for the upstream calls (aiohttp's cost as much CPU per request as the sidecar's own work).

Listener:
- ``request_parser``: sans-I/O request parsing (head, Content-Length / chunked bodies, limits, refusals).
- ``messages``: ``Request`` (what a handler gets), ``Response`` and ``StreamResponse`` (what it returns).
- ``server``: ``HTTPServer`` (accept, keep-alive, pipelining, disconnect -> cancel, drain) and its
  connections.

Client:
- ``parser``: sans-I/O response parsing (head, Content-Length / chunked / until-close framing).
- ``client``: ``UpstreamClient`` (pooled kept-alive connections, ``post``) and its connections.
- ``response``: ``UpstreamResponse`` (the body read whole or as it arrives, content coding removed).
- ``errors``: the failure types, one per phase, that ``resilience.classify`` maps to outcomes.
"""

from .client import UpstreamClient
from .errors import (
    UpstreamConnectError,
    UpstreamConnectTimeout,
    UpstreamDisconnected,
    UpstreamProtocolError,
    UpstreamReadTimeout,
)
from .response import UpstreamResponse

__all__ = [
    "UpstreamClient",
    "UpstreamConnectError",
    "UpstreamConnectTimeout",
    "UpstreamDisconnected",
    "UpstreamProtocolError",
    "UpstreamReadTimeout",
    "UpstreamResponse",
]
