"""CPU per upstream call, the client alone: aiohttp's ``ClientSession`` as is, with the sidecar's timeouts,
and through ``UpstreamClient`` (the sidecar's checks and bounds around it).

nginx serves the fixed 400-byte chat answer (as in proxy_bench.py); one process makes ``--calls``
sequential calls per variant, alternating for ``--rounds`` rounds, on uvloop, and prints CPU and wall
microseconds per call.

    python bench/upstream_call.py [--calls 2000] [--rounds 3]

Needs `apt-get install nginx-light`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import uvloop
from measuring import REQUEST, tools_present
from nginx_upstream import nginx_running

from sidecar.policy.compiled import Provider
from sidecar.policy.resilience_spec import TimeoutsSpec
from sidecar.policy.spec import ProviderKind
from sidecar.settings import Settings
from sidecar.upstream import EnvProxies, UpstreamClient

HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-bench", "accept-encoding": "gzip, deflate"}


async def main(port: int, calls: int, rounds: int) -> None:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body = REQUEST.encode()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024))
    client = UpstreamClient(Settings(), EnvProxies({}))
    client.open()
    provider = Provider(
        "nginx", ProviderKind.OPENAI, f"http://127.0.0.1:{port}/v1", None, (), TimeoutsSpec(), None, None
    )
    timeouts = TimeoutsSpec()
    sidecar_timeout = aiohttp.ClientTimeout(
        total=timeouts.total_s, connect=timeouts.connect_s, sock_read=timeouts.idle_s
    )

    async def plain() -> None:
        async with session.post(url, data=body, headers=HEADERS) as response:
            await response.read()

    async def with_timeouts() -> None:
        async with session.post(url, data=body, headers=HEADERS, timeout=sidecar_timeout, allow_redirects=False) as r:
            await r.read()

    async def upstream_client() -> None:
        async with asyncio.timeout(timeouts.first_byte_s):  # the attempt's first-byte deadline
            response = await client.post(provider, url, HEADERS, body, timeouts)
        try:
            await response.read()
        finally:
            response.close()

    variants: dict[str, Callable[[], Awaitable[None]]] = {
        "ClientSession.post + read": plain,
        "the same, with the sidecar's timeouts": with_timeouts,
        "UpstreamClient.post + read + close": upstream_client,
    }
    for call in variants.values():
        for _ in range(300):
            await call()
    command = f"python bench/upstream_call.py --calls {calls} --rounds {rounds}"
    print(f"Command: `{command}` ({time.strftime('%Y-%m-%d %H:%M')})\n")
    print("| round | client | CPU per call | wall per call |")
    print("|---|---|---|---|")
    for round_number in range(1, rounds + 1):
        for name, call in variants.items():
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(calls):
                await call()
            cpu, wall = (time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6
            print(f"| {round_number} | {name} | {cpu:.0f} us | {wall:.0f} us |")
    await session.close()
    await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not tools_present("nginx"):
        raise SystemExit(2)
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-call-"))
    with nginx_running(workdir) as upstream:
        uvloop.run(main(upstream, args.calls, args.rounds))
