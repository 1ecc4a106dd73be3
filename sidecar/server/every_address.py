"""Listening on every address, IPv6 and IPv4, with one socket: a listener's host ``::``.

``SIDECAR_HEALTH_HOST``'s default is ``::``, so that the kubelet's probes reach the health port whatever the
family of the pod's first address (IPv4, IPv6, or dual-stack listing either first). asyncio's
``create_server`` turns ``IPV6_V6ONLY`` on for an IPv6 socket, which would make ``::`` every IPv6 address
and no IPv4 one; ``listening_socket`` makes the socket itself with it off (IPv4 peers arrive as mapped
addresses, ``::ffff:10.0.0.7``) and hands it to ``create_server``. On a host whose kernel has no IPv6 (the
socket or the bind refused) it gives None, and the listener listens on ``0.0.0.0``: every address the
host has, still. A port already taken is the caller's error, as with any host.
"""

from __future__ import annotations

import errno
import socket

EVERY_ADDRESS = "::"
EVERY_IPV4_ADDRESS = "0.0.0.0"


def listening_socket(port: int) -> socket.socket | None:
    """A non-blocking socket bound to ``::`` port ``port`` that IPv4 peers reach too, or None where the
    host has no IPv6 (listen on ``EVERY_IPV4_ADDRESS`` instead). ``OSError`` when the port is taken."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:  # EAFNOSUPPORT: a kernel without IPv6
        return None
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((EVERY_ADDRESS, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise
        return None  # EADDRNOTAVAIL and the like: no IPv6 address to bind
    sock.setblocking(False)
    return sock
