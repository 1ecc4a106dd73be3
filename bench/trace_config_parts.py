"""Instructions an aiohttp ``TraceConfig`` adds to each upstream call, without the sidecar around it.

    python bench/trace_config_parts.py [--few 200] [--many 1200]

Runs this file under ``valgrind --tool=cachegrind`` (bench/parts_command.py), doing ``--few`` and then
``--many`` POSTs of a small body on one pooled connection to an aiohttp server in the same process, with a
plain ``ClientSession`` and with one given a ``TraceConfig`` whose ``on_connection_create_start`` and
``on_connection_create_end`` do nothing (the public seam that would mark a connection being made, in place
of ``sidecar.upstream.client._Connector``'s override of aiohttp's ``_create_connection``). The difference
of the totals over the difference of the counts is one call's share, client and server; the difference of
the two rows is what the trace config costs a call (its signals do not even fire on a pooled connection:
aiohttp builds a ``Trace`` per request and sends each of its request signals). aiohttp alone: no
``sidecar`` code runs, so ``--baseline`` measures nothing else.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiohttp
from aiohttp import web
from parts_command import measured_code, parts_arguments, valgrind_script


async def posts(n: int, traced: bool) -> None:
    """``n`` POSTs on one pooled connection to a server in this process (``traced``: with a trace config)."""

    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"{}")

    app = web.Application()
    app.router.add_post("/", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    configs = []
    if traced:

        async def mark(session: aiohttp.ClientSession, context: Any, params: Any) -> None:
            """Nothing: what a phase marker's call costs beyond it is aiohttp's."""

        config = aiohttp.TraceConfig()
        config.on_connection_create_start.append(mark)
        config.on_connection_create_end.append(mark)
        configs.append(config)
    async with aiohttp.ClientSession(trace_configs=configs) as session:
        for _ in range(n):
            async with session.post(f"http://127.0.0.1:{port}/", data=b"{}") as response:
                await response.read()
    await runner.cleanup()


def main() -> int:
    args = parts_arguments(200, 1200, run_values=2)
    if args.run is not None:
        asyncio.run(posts(int(args.run[1]), args.run[0] == "traced"))
        return 0
    measured_code(__file__, args)
    for mode in ("plain", "traced"):
        few = valgrind_script(__file__, ["--run", mode, str(args.few)], None)
        many = valgrind_script(__file__, ["--run", mode, str(args.many)], None)
        per_post = (many - few) / (args.many - args.few)
        print(f"| {mode} session | instructions per POST, client and server | {per_post:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
