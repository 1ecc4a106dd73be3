"""The floor: a featureless aiohttp + uvloop + orjson proxy (parse, rewrite model, forward, relay).

Used by proxy_bench.py as the in-run baseline, as in ../shared/reference/performance.md.
    python bench/minimal_proxy.py PORT UPSTREAM_BASE_URL
"""

from __future__ import annotations

import sys

import aiohttp
import orjson
import uvloop
from aiohttp import web


async def main(port: int, upstream: str) -> None:
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
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await __import__("asyncio").Event().wait()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), sys.argv[2]))
