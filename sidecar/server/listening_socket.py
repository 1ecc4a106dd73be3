"""A listening socket watched from outside the event loop's server: still open, still accepting.

A listener's socket can stop accepting while the process runs on: uvloop closes it without a word when
libuv reports an error on it (its ``UVStreamServer._fatal_error`` calls no exception handler for an
``OSError``), and a socket shut down under the process (``shutdown(2)`` through a descriptor another
process holds) refuses every connection; ``asyncio.Server.is_serving()`` still says True in both cases.
``ListeningSocket`` remembers the socket's descriptor and inode when the listener starts, and
``accepting()`` is False once that descriptor is closed, names another file, or no longer listens
(``SO_ACCEPTCONN``): three system calls, made by the listener's sweep once a second.
"""

from __future__ import annotations

import os
import socket
from typing import Any


class ListeningSocket:
    """One bound, listening socket of a listener: its descriptor, inode and port, as they were at start."""

    __slots__ = ("fd", "inode", "port")

    def __init__(self, sock: Any) -> None:
        """``sock``: one of ``asyncio.Server.sockets`` (uvloop's are ``PseudoSocket``)."""
        self.fd: int = sock.fileno()
        self.inode = os.fstat(self.fd).st_ino
        self.port: int = sock.getsockname()[1]

    def accepting(self) -> bool:
        """Whether the socket is still open and listening."""
        try:
            if os.fstat(self.fd).st_ino != self.inode:
                return False  # closed, its descriptor number given to another file since
            sock = socket.socket(fileno=self.fd)  # a view of the descriptor: detached, never closed
            try:
                return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
            finally:
                sock.detach()
        except OSError:
            return False
