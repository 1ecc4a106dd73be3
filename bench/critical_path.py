"""Where a proxy's added latency at one connection lies: before the upstream call, or after its answer.

At one connection a proxy's added latency is the serial work on two stretches: (a) from the app's request
sent to the upstream request received, and (b) from the upstream answer sent to the app's answer received.
Here the upstream is a small stamping server (its own process, uvloop): it notes the monotonic clock when a
request has fully arrived (t1) and just before it writes its fixed answer (t2, nginx's 400-byte chat
completion); the client (this process, a blocking socket) notes when it sends (t0) and when the whole
answer has come (t3). ``CLOCK_MONOTONIC`` is one clock for every process of the machine, so
``a = t1 - t0`` and ``b = t3 - t2`` per request. The targets (direct to the upstream, the minimal aiohttp
proxy, this tree's sidecar on the bench's chain policy, and ``--baseline REF``'s) take turns, one request
each, in a new shuffled order each round (as ``added_latency.py``), so all see the same moments; the table
gives each stretch's median and its median minus direct's (the proxy's own time on it).

    python bench/critical_path.py [--requests 3000] [--baseline REF]

Timings on a shared machine are noisy: the split (a vs b), and the same run's differences, are what to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from listening import read_port, stop_all, write_ports_file
from measuring import REQUEST
from nginx_upstream import RESPONSE
from sidecar_under_test import checkout, sidecar_policy, start_minimal, start_sidecar

ANSWER = (
    f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(RESPONSE)}\r\n\r\n{RESPONSE}"
).encode()


class Stamping(asyncio.Protocol):
    """One upstream connection: each POST fully read is stamped (t1), answered, stamped before the write
    (t2); ``GET /stamps`` answers the stamps so far as JSON and forgets them."""

    def __init__(self, stamps: list[tuple[int, int]]) -> None:
        self.stamps = stamps
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").lower()
            length = next((int(line[15:]) for line in head.split("\r\n") if line.startswith("content-length:")), 0)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self._answer(head)

    def _answer(self, head: str) -> None:
        assert self.transport is not None
        if head.startswith("get /stamps"):
            body = json.dumps(self.stamps).encode()
            self.stamps.clear()
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            return
        received = time.perf_counter_ns()
        sent = time.perf_counter_ns()
        self.transport.write(ANSWER)
        self.stamps.append((received, sent))


async def serve_upstream(ports_file: Path) -> None:
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    stamps: list[tuple[int, int]] = []
    server = await asyncio.get_running_loop().create_server(lambda: Stamping(stamps), "127.0.0.1", 0)
    write_ports_file(ports_file, server.sockets[0].getsockname()[1])
    await server.serve_forever()


class Client:
    """A kept-alive connection to one target; ``post`` sends the bench's chat request and reads the answer."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = (
            "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {len(REQUEST)}\r\n\r\n{REQUEST}"
        ).encode()

    def post(self) -> tuple[int, int]:
        """(t0, t3): the clock before the request is sent, and once the whole answer has come."""
        sent = time.perf_counter_ns()
        self.sock.sendall(self.request)
        data = b""
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self.sock.recv(65536)
        head = data[:end].decode("latin-1").lower()
        if not head.startswith("http/1.1 200"):
            raise RuntimeError(head.split("\r\n")[0])
        length = next(int(line[15:]) for line in head.split("\r\n") if line.startswith("content-length:"))
        while len(data) < end + 4 + length:
            data += self.sock.recv(65536)
        return sent, time.perf_counter_ns()


def stamps_of(upstream: int) -> list[tuple[int, int]]:
    with socket.create_connection(("127.0.0.1", upstream)) as sock:
        sock.sendall(b"GET /stamps HTTP/1.1\r\nhost: x\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(1 << 20)
            data += chunk
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                length = int(data[:end].lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(data) >= end + 4 + length:
                    return [tuple(pair) for pair in json.loads(data[end + 4 : end + 4 + length])]


def alternate(ports: dict[str, int], upstream: int, n: int) -> dict[str, list[tuple[float, float]]]:
    """``n`` rounds after 50 to warm up: each target's (a, b) in ms per request."""
    clients = {name: Client(port) for name, port in ports.items()}
    order = list(clients.items())
    shuffle = random.Random(0).shuffle
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
    for i in range(n + 50):
        shuffle(order)
        sides = [(name, client.post()) for name, client in order]
        stamped = stamps_of(upstream)
        if len(stamped) != len(sides):
            raise RuntimeError(f"{len(stamped)} upstream requests for {len(sides)} sent")
        if i < 50:
            continue
        for (name, (t0, t3)), (t1, t2) in zip(sides, stamped, strict=True):
            samples[name].append(((t1 - t0) / 1e6, (t3 - t2) / 1e6))
    return samples


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--baseline", help="also measure the sidecar at this git revision")
    parser.add_argument("--upstream", type=Path, help=argparse.SUPPRESS)  # run as the stamping upstream
    args = parser.parse_args()
    if args.upstream is not None:
        asyncio.run(serve_upstream(args.upstream))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="critical-path-"))
    procs = [subprocess.Popen([sys.executable, __file__, "--upstream", str(workdir / "upstream.ports")])]
    try:
        for _ in range(100):
            if (workdir / "upstream.ports").exists():
                break
            time.sleep(0.1)
        upstream = read_port(workdir / "upstream.ports")
        procs.append(start_minimal(upstream, workdir / "minimal.ports"))
        ports = {"direct (stamping upstream)": upstream, "minimal aiohttp proxy": read_port(workdir / "minimal.ports")}
        policy = sidecar_policy(workdir, upstream, "chain")
        procs.append(start_sidecar(policy, workdir / "sidecar.ports", {})[0])
        ports["sidecar"] = read_port(workdir / "sidecar.ports")
        if args.baseline:
            code = checkout(args.baseline, workdir)
            procs.append(start_sidecar(policy, workdir / "baseline.ports", {}, code)[0])
            ports[f"sidecar@{args.baseline}"] = read_port(workdir / "baseline.ports")
        samples = alternate(ports, upstream, args.requests)
    finally:
        stop_all(procs)
    baseline = f" --baseline {args.baseline}" if args.baseline else ""
    print(
        f"Command: `python bench/critical_path.py --requests {args.requests}{baseline}` "
        f"({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC)\n\n"
        "| target | (a) request -> upstream, p50 (ms) | added (a) | (b) answer -> app, p50 (ms) | added (b) |\n"
        "|---|---|---|---|---|"
    )
    direct = samples["direct (stamping upstream)"]
    a0, b0 = statistics.median(s[0] for s in direct), statistics.median(s[1] for s in direct)
    for name, values in samples.items():
        a, b = statistics.median(s[0] for s in values), statistics.median(s[1] for s in values)
        print(f"| {name} | {a:.3f} | {a - a0:+.3f} | {b:.3f} | {b - b0:+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
