from __future__ import annotations
import asyncio, os, signal, time
from collections.abc import Callable
import aiohttp
from ..conftest import FakeFactory, SidecarFactory
from ..redis_server import RedisServer
from .cache_helpers import ask, cache_policy, metrics_text, stored

async def one(session, running, stream, i):
    body = {"model": "cached", "temperature": 0, "messages": [{"role": "user", "content": f"q{i%3}"}], "stream": stream}
    t = time.monotonic()
    async with session.post(running.url + "/v1/chat/completions", json=body, headers={"authorization": "Bearer x"}) as r:
        await r.read()
        return r.status, r.headers.get("x-sidecar-cache"), time.monotonic() - t

async def test_sigstop(fake: FakeFactory, sidecar: SidecarFactory, start_redis: Callable[..., RedisServer]) -> None:
    server = start_redis()
    store = f"{{redis: {{url: '{server.url}', timeout_s: 0.3, connect_timeout_s: 0.3}}, breaker: {{minimum_calls: 5, open_s: 1, open_max_s: 2}}, log_interval_s: 60}}"
    running = await sidecar(cache_policy([await fake("f0")], store=store))
    async with aiohttp.ClientSession() as s:
        print([await one(s, running, False, i) for i in range(3)])
        print([await one(s, running, False, i) for i in range(3)])
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            for rnd in range(4):
                res = await asyncio.gather(*(one(s, running, i % 2 == 0, i) for i in range(40)))
                print(rnd, sorted(set((a, b) for a, b, _ in res)), max(c for _, _, c in res))
                await asyncio.sleep(0.7)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        await asyncio.sleep(2.5)
        for rnd in range(3):
            res = await asyncio.gather(*(one(s, running, i % 2 == 0, i) for i in range(10)))
            print("after", rnd, sorted(set((a, b) for a, b, _ in res)), max(c for _, _, c in res))
            await asyncio.sleep(0.5)
    logs = running.logs.getvalue().decode()
    lines = [l for l in logs.splitlines() if "cache" in l and ("warn" in l or "error" in l)]
    print(len(lines)); print("\n".join(l[:400] for l in lines[:10]))
    m = await metrics_text(running)
    print("\n".join(l for l in m.splitlines() if l.startswith("llm_sidecar_cache_store_errors") or l.startswith("llm_sidecar_cache_results")))
    assert False
