"""Peak resident memory of a real sidecar process while a large upload and a large download cross its
passthrough (docs/api.md, "Passthrough"; docs/benchmarks.md, wave 38): the body must be streamed both
ways, never held whole.

A provider in this process (aiohttp on loopback) reads an upload to its end, counting it, and answers a
download of ``--mb`` MB in 64 KiB writes; the sidecar (``python -m sidecar run``, its own process)
forwards ``/v1/files`` to it. The client streams the upload from a generator and reads the download
in chunks, so neither end holds the body. The sidecar's ``VmHWM`` (its peak RSS, /proc) is read after
start-up and a small call, after the upload, and after the download.

    python bench/passthrough_memory.py [--mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from listening import port_zero, start_with_ports_file
from measuring import peak_rss_mb
from sidecar_under_test import ROOT

CHUNK = 64 * 1024


def provider_app(size: int, received: list[int]) -> web.Application:
    async def files(request: web.Request) -> web.StreamResponse:
        count = 0
        async for chunk in request.content.iter_chunked(CHUNK):
            count += len(chunk)
        received.append(count)
        if request.method == "POST":
            return web.json_response({"id": "file-1", "bytes": count})
        response = web.StreamResponse(headers={"content-type": "application/octet-stream"})
        response.content_length = size
        await response.prepare(request)
        block = b"x" * CHUNK
        for start in range(0, size, CHUNK):
            await response.write(block[: min(CHUNK, size - start)])
        await response.write_eof()
        return response

    app = web.Application(client_max_size=0)
    app.router.add_route("*", "/v1/files{tail:.*}", files)
    return app


async def main(mb: int) -> None:
    size = mb * 1024 * 1024
    received: list[int] = []
    runner = web.AppRunner(provider_app(size, received))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    provider_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(
            "version: 1\nproviders:\n"
            f"  up: {{kind: openai, base_url: 'http://127.0.0.1:{provider_port}/v1', api_key: {{env: UP_KEY}}}}\n"
            "models:\n  m: {provider: up, model: m}\n"
            "passthrough:\n  - {dialect: openai, provider: up, paths: [/v1/files], max_body_bytes: 1073741824}\n"
        )
        env = {**os.environ, "UP_KEY": "k", "PYTHONPATH": str(ROOT), "SIDECAR_LOG_LEVEL": "warning"}
        command = [sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(Path(tmp) / "p.ports")]
        process, port = await asyncio.to_thread(start_with_ports_file, command, Path(tmp) / "p.ports", env=env)
        try:
            await measure(process, f"http://127.0.0.1:{port}", size, received, mb)
        finally:
            process.terminate()
            process.wait(10)
    await runner.cleanup()


async def measure(process: subprocess.Popen[bytes], url: str, size: int, received: list[int], mb: int) -> None:
    async def upload() -> object:
        block = b"u" * CHUNK
        for start in range(0, size, CHUNK):
            yield block[: min(CHUNK, size - start)]

    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/v1/files", data=b"small") as answer:
            await answer.read()
        started = peak_rss_mb(process.pid)
        began = time.perf_counter()
        async with session.post(f"{url}/v1/files", data=upload()) as answer:
            await answer.read()
        up_s = time.perf_counter() - began
        after_upload = peak_rss_mb(process.pid)
        began, got = time.perf_counter(), 0
        async with session.get(f"{url}/v1/files/file-1/content") as answer:
            async for chunk in answer.content.iter_chunked(CHUNK):
                got += len(chunk)
        down_s = time.perf_counter() - began
        after_download = peak_rss_mb(process.pid)
    assert received[-2] == size and got == size, (received, got)
    print(f"sidecar peak RSS after start and one small call: {started:.1f} MB")
    print(f"after a {mb} MB upload ({up_s:.1f} s): {after_upload:.1f} MB (+{after_upload - started:.1f})")
    print(f"after a {mb} MB download ({down_s:.1f} s): {after_download:.1f} MB (+{after_download - after_upload:.1f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    asyncio.run(main(parser.parse_args().mb))
