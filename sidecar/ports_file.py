"""Port 0 and the ports file: where a process that was told "any free port" ended up listening.

``--port 0`` asks the kernel for a free port when the socket is bound, so nothing else can take it
between the choice and the bind (choosing a free port first and passing it on can lose it to another
process in between). Only the process knows the port it got; ``llm-sidecar run`` and ``llm-sidecar
fake-provider`` say it two ways:

- their "listening" output carries the bound port (the ``listening`` log line's ``port`` and
  ``health_port``; the fake provider's ``listening on http://host:port`` line);
- with ``--ports-file PATH``, once listening they write ``PATH`` as one JSON object
  (``{"port": 41873, "health_port": 41874}``; ``null`` for a listener not configured). It is written
  to a temporary file beside ``PATH`` and renamed over it, so a reader never sees half a file; ``clear``
  removes a file left by an earlier run before the process listens, so a reader that waits for
  ``PATH`` to appear reads this run's ports.

A facility for developers and tests (several servers on one machine, none needing a fixed port);
deployments give fixed ports (Kubernetes probes and Services name them).

    clear(path)                                   at start: a stale file gone; OSError if PATH cannot be written
    port = one_port([sock.getsockname(), ...])    the bound port; OSError when addresses got different ones
    write(path, {"port": port, "health_port": None})
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def clear(path: str) -> None:
    """Remove ``path`` if an earlier run left it; ``OSError`` (with the reason) when its directory
    cannot take the file, so the process fails at start rather than once it listens."""
    target = Path(path)
    target.unlink(missing_ok=True)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"--ports-file {path}: no directory {target.parent}")
    if not os.access(target.parent, os.W_OK):
        raise PermissionError(f"--ports-file {path}: directory {target.parent} is not writable")


def write(path: str, ports: Mapping[str, int | None]) -> None:
    """Write ``ports`` to ``path`` as one JSON object, atomically (a temporary file renamed over it)."""
    import orjson

    target = Path(path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_bytes(orjson.dumps(dict(ports)) + b"\n")
    partial.replace(target)


def one_port(addresses: Sequence[Any]) -> int:
    """The port of a listener's bound sockets (``getsockname()`` tuples). A host name that resolves to
    several addresses (``localhost``: 127.0.0.1 and ::1) gets one socket each; with port 0 each gets its
    own port, which no single number can describe: ``OSError`` naming them."""
    ports = sorted({int(address[1]) for address in addresses})
    if len(ports) != 1:
        listed = ", ".join(f"{address[0]}:{address[1]}" for address in addresses) or "none"
        raise OSError(f"the listener's addresses got different ports ({listed}); with port 0, give one address")
    return ports[0]
