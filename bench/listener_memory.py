"""The listener's memory under the security review's denial-of-service shapes (issue 16), each on a fresh
sidecar process: resident memory before, while the attack is held, and after it ends.

- ``pipeline``: one connection pipelines ``GET /healthz`` for ``--seconds`` and never reads an answer;
- ``flood-*``: 3,000 connections each send a head that never ends: 60 KB in one field (``one-field``),
  60 KB in 8 fields under the line limit (``many-fields``), or 30 KB in 4 fields (``30k``).

Each against the health port and the app port. ``--source DIR`` runs the sidecar from another source
tree (e.g. ``git archive 96ab8ad | tar -x -C /tmp/old`` for the listener before issue 16).

    python bench/listener_memory.py [--source DIR] [--seconds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from listening import free_pick, port_zero, start_with_ports_file
from measuring import rss_mb
from sidecar_under_test import ROOT

HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
FLOODS = {
    "flood-one-field": HEAD + b"X-Pad: " + b"a" * 60_000,
    "flood-many-fields": HEAD + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 7400) for i in range(8)),
    "flood-30k": HEAD + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 7400) for i in range(4)),
}


def start(source: Path, policy: Path) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    """The sidecar from ``source``, both listeners on port 0 (read from its ports file); a tree from before
    port 0 (no ``sidecar/ports_file.py``) on two free picks instead."""
    env = {**os.environ, "SIDECAR_LOG_LEVEL": "warning", "SIDECAR_HEALTH_HOST": "127.0.0.1", "PYTHONPATH": str(source)}
    command = [sys.executable, "-m", "sidecar", "run", "--policy", str(policy)]
    quiet = {"env": env, "cwd": source, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if (source / "sidecar/ports_file.py").exists():
        ports_file = policy.with_suffix(".ports")
        proc, _ = start_with_ports_file([*command, "--health-port", "0", *port_zero(ports_file)], ports_file, **quiet)
        bound = json.loads(ports_file.read_bytes())
        ports = {"app": bound["port"], "health": bound["health_port"]}
    else:
        ports = {"app": free_pick(), "health": free_pick()}
        where = ["--port", str(ports["app"]), "--health-port", str(ports["health"])]
        proc = subprocess.Popen([*command, *where], **quiet)  # type: ignore[call-overload]
    for _ in range(300):
        with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{ports['health']}/healthz") as r:
            if r.status == 200:
                return proc, ports
        time.sleep(0.05)
    raise TimeoutError("the sidecar did not start")


def pipeline(port: int, seconds: float) -> str:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 256
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setblocking(False)
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            try:
                sent += sock.send(request)
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break
    return f"{sent / 1e6:.1f} MB sent"


def flood(port: int, head: bytes) -> list[socket.socket]:
    socks = []
    for _ in range(3000):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.settimeout(2)
        socks.append(sock)
        with contextlib.suppress(OSError):
            sock.sendall(head)
    return socks


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=ROOT)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    policy = Path(tempfile.mkdtemp(prefix="listener-memory-")) / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n  up: {dialect: openai, base_url: 'http://127.0.0.1:9/v1'}\n"
        "models:\n  m: {provider: up, model: m}\n"
    )
    print(f"Command: `python bench/listener_memory.py --source {args.source} --seconds {args.seconds}` "
          f"({time.strftime('%Y-%m-%d %H:%M')})\n")  # fmt: skip
    print("| attack | port | RSS before | while held | after | note |\n|---|---|---|---|---|---|")
    for attack in ["pipeline", *FLOODS]:
        for port_name in ("health", "app"):
            proc, ports = start(args.source, policy)
            try:
                before = rss_mb(proc.pid)
                note = ""
                socks: list[socket.socket] = []
                if attack == "pipeline":
                    note = pipeline(ports[port_name], args.seconds)
                else:
                    socks = flood(ports[port_name], FLOODS[attack])
                    time.sleep(1)
                held = rss_mb(proc.pid)
                for sock in socks:
                    sock.close()
                time.sleep(1)
                after = rss_mb(proc.pid)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            print(f"| {attack} | {port_name} | {before:.0f} MB | {held:.0f} MB | {after:.0f} MB | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
