"""A local OTLP/HTTP sink that accepts and discards exports (for the tracing-on benchmark).

python bench/otlp_sink.py PORT
"""

from __future__ import annotations

import sys

from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=b"", content_type="application/x-protobuf")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


app = web.Application(client_max_size=64 * 1024 * 1024)
app.router.add_post("/v1/{signal}", accept)
app.router.add_get("/healthz", healthz)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
