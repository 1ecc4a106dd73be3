"""The floor of any cache hit on aiohttp.web: answer every POST with stored bytes, nothing else.

Reads the body, parses it (orjson), hashes the raw bytes (SHA-256) and answers the bytes kept under
that key (the first request for a body stores a fixed answer). No policy, no route, no headers of its
own, no metrics, no log line. ``bench/cache_instructions.py --cases floor`` counts its instructions per
request: what a sidecar hit cannot go below while it is served by aiohttp.web. With ``--server`` it
serves on aiohttp's low-level ``web.Server`` (one handler, no ``Application``, router or signals), the
kind of server the sidecar's listener is (``--cases floor-server``).

    python bench/minimal_answer.py PORTS_FILE [--server]

It listens on any free port and writes it to PORTS_FILE (``{"port": N}``, bench/listening.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path

import orjson
import uvloop
from aiohttp import web
from listening import serve_until_stopped, write_ports_file

ANSWER = orjson.dumps(
    {
        "id": "chatcmpl-floor",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench-upstream",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    }
)


async def main(ports_file: Path, low_level: bool) -> None:
    kept: dict[str, bytes] = {}

    async def answer(request: web.Request) -> web.Response:
        raw = await request.read()
        orjson.loads(raw)
        key = hashlib.sha256(raw).hexdigest()
        body = kept.get(key)
        if body is None:
            body = kept[key] = ANSWER
        return web.Response(body=body, content_type="application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    if low_level:

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            if request.method == "POST":
                return await answer(request)  # type: ignore[arg-type]
            return await healthz(request)  # type: ignore[arg-type]

        server = web.Server(handle, handler_cancellation=True)
        listener = await asyncio.get_running_loop().create_server(server, "127.0.0.1", 0)
        write_ports_file(ports_file, listener.sockets[0].getsockname()[1])
        await asyncio.Event().wait()
    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    app.router.add_get("/healthz", healthz)
    await serve_until_stopped(web.AppRunner(app, access_log=None), ports_file)


if __name__ == "__main__":
    uvloop.run(main(Path(sys.argv[1]), "--server" in sys.argv[2:]))
