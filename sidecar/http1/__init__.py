"""HTTP/1.1 on ``asyncio.Protocol`` for the upstream calls (the app-side listener is aiohttp.web:
``server.listener``).

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
