"""The open defect the wave 30 soak found (docs/benchmarks.md, wave 30 ``soak30``): a client that leaves
before its answer's head is sometimes not noticed, and its request runs its chain on to a 503 or 504.

``--concurrency`` raw-socket clients (no SDK: each closes its connection for sure) send an OpenAI chat to
the soak's stack (bench/sdk_soak.py's ``Stack``: every target stalls 4 s, ``[fault:stall=4]``), wait 0.5
to 3 s for a byte of the answer, then close. After ``--seconds`` and 8 s more, each closed request's
access line is read: 499 (noticed) or another status written more than 0.5 s after the close (not).

    .venv/bin/python bench/sdk_soak_leavers.py [--concurrency 48] [--per-host 2048] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import tempfile
import time
from pathlib import Path

from sdk_soak import Stack
from sdk_soak_checks import access_lines, every_access_line


async def leave(port: int, soak_id: str, stream: bool, route: str, rng: random.Random) -> float | None:
    """One request; the time its connection was closed (None: an answer came first)."""
    prompt = f"soak {soak_id}: say something [fault:stall=4]"
    body = json.dumps(
        {"model": route, "max_tokens": 40, "stream": stream, "messages": [{"role": "user", "content": prompt}]}
    )
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-soak-id: {soak_id}\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{head}content-length: {len(body)}\r\n\r\n{body}".encode())
    await writer.drain()
    try:
        await asyncio.wait_for(reader.read(1), timeout=rng.uniform(0.5, 3))
        answered = True
    except TimeoutError:
        answered = False
    writer.close()
    await writer.wait_closed()
    return None if answered else time.time()


async def client(port: int, number: int, until: float, left: dict[str, float | None]) -> None:
    rng = random.Random(number)
    sent = 0
    while time.monotonic() < until:
        sent += 1
        soak_id = f"leave{number}-{sent}"
        route = rng.choice(("chain", "hedged", "spare"))
        left[soak_id] = await leave(port, soak_id, rng.random() < 0.5, route, rng)


async def run(args: argparse.Namespace, stack: Stack) -> None:
    port = int(stack.url.rsplit(":", 1)[1])
    left: dict[str, float | None] = {}
    until = time.monotonic() + args.seconds
    await asyncio.gather(*(client(port, number, until, left) for number in range(args.concurrency)))
    await asyncio.sleep(8)
    lines = access_lines(every_access_line(stack.log))
    seen: collections.Counter[str] = collections.Counter()
    for soak_id, closed in left.items():
        line = (lines.get(soak_id) or [{}])[0]
        if closed is None:
            seen["answered before the close"] += 1
        elif line.get("status") == 499:
            seen["499: noticed"] += 1
        elif line.get("ts", 0) - closed > 0.5:
            seen[f"{line.get('status')}: not noticed"] += 1
            late = line.get("ts", 0) - closed
            print(f"# {soak_id} {line.get('status')} {late:.2f} s after the close: {line.get('attempt_log')}")
        else:
            seen[f"{line.get('status')}: answered as it closed"] += 1
    print("\n".join(f"{what}: {count}" for what, count in sorted(seen.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--per-host", type=int, default=2048)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    stack = Stack(Path(tempfile.mkdtemp(prefix="sidecar-soak-leavers-")), 1, args.per_host)
    try:
        asyncio.run(run(args, stack))
    finally:
        stack.close()


if __name__ == "__main__":
    main()
