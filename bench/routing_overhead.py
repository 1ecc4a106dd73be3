"""CPU per request of a routing policy against a plain route, in one process (no wrk, no nginx).

The sidecar app (``start_app``), the fake provider and an aiohttp client run on one event loop; the
process's CPU time over ``--requests`` sequential requests (the 330-byte chat request of
``measuring``) is divided by their number. Variants are the policies of ``sidecar_under_test``: ``chain``
(the plain route) and ``routing`` (``select: cheapest`` behind a routing block of 20 classes), measured
in ``--pairs`` interleaved pairs (which goes first alternates), since the shared machine's load moves
every figure.

    python bench/routing_overhead.py [--requests 1500] [--pairs 4]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))
from measuring import REQUEST
from sidecar_under_test import sidecar_policy

from sidecar.fake_provider import FakeConfig, build_app
from sidecar.policy import load_policy
from sidecar.server.app import build_state, start_app
from sidecar.settings import Settings
from sidecar.telemetry import Telemetry
from sidecar.telemetry.logging import configure_logging


async def cpu_per_request(variant: str, requests: int) -> float:
    fake = web.AppRunner(build_app(FakeConfig()))
    await fake.setup()
    site = web.TCPSite(fake, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    path = sidecar_policy(Path(tempfile.mkdtemp()), port, variant)
    log = configure_logging("info", stream=io.BytesIO(), cache=False)  # access lines rendered, not printed
    telemetry = Telemetry.from_env({}, service_version="bench")
    state = build_state(Settings(policy_path=str(path)), load_policy(path), telemetry, {}, log)
    state.listening = True
    app, server = await start_app(state, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}/v1/chat/completions"
    headers = {"content-type": "application/json"}
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):  # warm-up: connections, caches
                async with session.post(url, data=REQUEST, headers=headers) as response:
                    await response.read()
            started = time.process_time()
            for _ in range(requests):
                async with session.post(url, data=REQUEST, headers=headers) as response:
                    assert response.status == 200, await response.text()
                    await response.read()
            return (time.process_time() - started) / requests * 1e6
    finally:
        await server.shutdown(0)
        await app.close()
        await fake.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--pairs", type=int, default=4)
    args = parser.parse_args()
    print("| pair (first) | plain route (us CPU/request) | routing, 20 classes | added |")
    print("|---|---|---|---|")
    for pair in range(1, args.pairs + 1):
        # the order alternates: the second of a pair runs in a process whose heap the first has grown
        order = ("chain", "routing") if pair % 2 else ("routing", "chain")
        measured = {variant: asyncio.run(cpu_per_request(variant, args.requests)) for variant in order}
        plain, routed = measured["chain"], measured["routing"]
        added = f"{routed - plain:+,.0f} ({routed / plain - 1:+.0%})"
        print(f"| {pair} ({order[0]}) | {plain:,.0f} | {routed:,.0f} | {added} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
