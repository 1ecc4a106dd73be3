"""A small HTTP/1.1 client for the upstream calls: the one thing on the request path not delegated.

- ``parser``: sans-I/O response parsing (head, Content-Length / chunked / until-close framing).
- ``client``: ``UpstreamClient`` (pooled kept-alive connections, ``post``) and ``UpstreamResponse``.
- ``errors``: the failure types, one per phase, that ``resilience.classify`` maps to outcomes.
"""

from .client import UpstreamClient, UpstreamResponse
from .errors import (
    UpstreamConnectError,
    UpstreamConnectTimeout,
    UpstreamDisconnected,
    UpstreamProtocolError,
    UpstreamReadTimeout,
)

__all__ = [
    "UpstreamClient",
    "UpstreamConnectError",
    "UpstreamConnectTimeout",
    "UpstreamDisconnected",
    "UpstreamProtocolError",
    "UpstreamReadTimeout",
    "UpstreamResponse",
]
