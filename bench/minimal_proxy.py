"""The floor: a featureless aiohttp + uvloop + orjson proxy (parse, rewrite model, forward, relay).

Used by proxy_bench.py as the in-run baseline (docs/benchmarks.md: ratios within one run).
    python bench/minimal_proxy.py PORT UPSTREAM_BASE_URL [PORTS_FILE]

PORT 0 listens on any free port; PORTS_FILE then says which (``{"port": N}``, bench/listening.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import aiohttp
import orjson
import uvloop
from aiohttp import web
from listening import write_ports_file


def proxy_app(upstream: str) -> web.Application:
    """The proxy's app (in the running loop: its client session is made here). bench/footprint_floor.py
    serves it too, in a process with a whole sidecar beside it."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024))

    async def proxy(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        body["model"] = "rewritten"
        async with session.post(
            upstream + request.path, data=orjson.dumps(body), headers={"content-type": "application/json"}
        ) as response:
            data = await response.read()
            return web.Response(status=response.status, body=data, content_type="application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", proxy)
    app.router.add_get("/healthz", healthz)
    return app


async def main(port: int, upstream: str, ports_file: str | None) -> None:
    runner = web.AppRunner(proxy_app(upstream), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    if ports_file is not None:
        write_ports_file(Path(ports_file), runner.addresses[0][1])
    await __import__("asyncio").Event().wait()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
