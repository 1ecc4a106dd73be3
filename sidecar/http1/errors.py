"""What can go wrong on the way to an upstream, as exception types the resilience layer classifies.

Each type says which phase failed, so ``resilience.classify`` maps it without reading messages:

- ``UpstreamConnectError``   no connection (DNS, refused, unreachable, TLS handshake): ``connect_error``
- ``UpstreamConnectTimeout`` the connection did not open within ``connect_s``: ``timeout_connect``
- ``UpstreamReadTimeout``    no byte arrived for ``idle_s`` while one was awaited: ``timeout_idle``
- ``UpstreamDisconnected``   the connection closed or reset before the response ended: ``reset``
- ``UpstreamProtocolError``  the upstream broke HTTP/1.1 (bad status line, framing, encoding): ``malformed_response``
"""

from __future__ import annotations


class UpstreamConnectError(OSError):
    """The connection to the upstream could not be opened."""


class UpstreamConnectTimeout(TimeoutError):
    """The connection to the upstream did not open in time."""


class UpstreamReadTimeout(TimeoutError):
    """The upstream sent nothing for longer than the idle timeout."""


class UpstreamDisconnected(ConnectionError):
    """The upstream closed or reset the connection before the response was complete."""


class UpstreamProtocolError(ValueError):
    """The upstream's bytes are not a valid HTTP/1.1 response."""
