"""The route ``chain`` the fallback, hedge, last-resort and reload tests use: its policy (``chain_policy``;
``CONNECT``, the connect bound of its targets, in every defaults' resilience line: ``resilience_line``),
a chat call to it, the count of requests a fake provider has seen, fake providers started and their
fault set (``fakes``, ``set_fault``), a fake provider that holds its answers until the test lets them go
(``held_fake``), a target's breaker series in /metrics (``breaker_series``), and a chat that m0's
provider answers late (``post``)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from sidecar.fake_provider import FakeConfig
from sidecar.fake_provider import build_app as build_fake_app

from ..conftest import FakeFactory, RunningSidecar, provider_block

CONNECT = "timeouts: {connect_s: 30}"
"""The targets' connect bound, over the chain's 10 s deadline: the deadline, never the product's 5 s
``connect_s``, ends a connection a loaded machine is slow to make (CI runs the suite on 2 busy cores), so
no test meets a ``timeout_connect`` it did not ask for (the tests about it set their own ``connect_s``,
in their route's block: it is merged field by field over the defaults'). The other policy builders of
tests/ that write a defaults' resilience line (test_hooks, test_hostile_upstream, budget_walks,
ensemble_policies, cache_helpers, routing/policies...) put it there too."""


def resilience_line(first: str = "") -> str:
    """A defaults' resilience line of ``chain_policy``: the fields ``first`` (each with its ", "), short
    backoffs, a 10 s deadline, ``CONNECT``."""
    return "  resilience: {" + first + "backoff: {base_s: 0.01, cap_s: 0.05}, deadline_s: 10, " + CONNECT + "}\n"


def chain_policy(
    urls: list[str],
    extra_defaults: str = "",
    route_extra: str = "",
    windows: list[int] | None = None,
    resilience: str = resilience_line(),
) -> str:
    """Providers p0..pN (fakes speaking openai at ``urls``), models m0..mN (``windows``: their context
    windows), the defaults' ``resilience`` line and ``extra_defaults`` lines, and the route ``chain`` over
    them in order (``route_extra`` lines under it)."""
    text = "version: 1\n"
    text += "defaults:\n" + resilience + extra_defaults
    text += "providers:\n" + "".join(provider_block(f"p{i}", url, "openai") for i, url in enumerate(urls))
    text += "models:\n"
    for i, _ in enumerate(urls):
        window = f", context_window: {windows[i]}" if windows else ""
        text += f"  m{i}: {{provider: p{i}, model: up{i}{window}}}\n"
    chain = ", ".join(f"m{i}" for i in range(len(urls)))
    text += f"routes:\n  - name: chain\n    match: {{model: chain}}\n    target: [{chain}]\n{route_extra}"
    return text


async def chat(
    running: RunningSidecar, headers: dict[str, str] | None = None, stream: bool = False
) -> tuple[int, dict[str, str], Any]:
    body = {"model": "chain", "messages": [{"role": "user", "content": "hello"}], "stream": stream}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body, headers=headers or {}) as response,
    ):
        data = await response.read()
        return response.status, {k.lower(): v for k, v in response.headers.items()}, data


async def calls(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_fake/stats") as response:
        return int((await response.json())["requests"])


async def fakes(fake: FakeFactory, n: int, **config: Any) -> list[str]:
    return [await fake(f"f{i}", **config) for i in range(n)]


async def held_fake(aiohttp_server: Any, name: str, gate: asyncio.Event, marked: str = "") -> str:
    """A fake provider named ``name`` that counts and records each call as it arrives (``/_fake/stats``,
    ``/_fake/requests``) but answers none (with ``marked``: none whose body holds that text) until ``gate``
    is set: calls stay in flight for as long as the test needs them there, where a stall of a few seconds
    can run out on a loaded machine. Its URL."""

    @web.middleware
    async def hold(request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/_fake/") and marked.encode() in await request.read():
            await gate.wait()
        return await handler(request)  # type: ignore[no-any-return]

    app = build_fake_app(FakeConfig(name=name))
    app.middlewares.append(hold)  # inside the fake's own recording middleware: a held call is counted
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def set_fault(url: str, config: dict[str, Any]) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/_fake/config", json=config) as response,
    ):
        assert response.status == 200, await response.text()


def breaker_series(metrics: str, target: str) -> dict[str, float]:
    """The breaker's state gauge and transition counters of ``target`` in /metrics text."""
    found = {}
    for line in metrics.splitlines():
        if line.startswith(f'llm_sidecar_breaker_state{{target="{target}"}}'):
            found["state"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("llm_sidecar_breaker_transitions_total{") and f'target="{target}"' in line:
            found[line.split('to="', 1)[1].split('"', 1)[0]] = float(line.rsplit(" ", 1)[1])
    return found


async def metrics_of(running: RunningSidecar) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as response:
        return await response.text()


def post(session: aiohttp.ClientSession, running: RunningSidecar, stall: float) -> asyncio.Future[int]:
    """A chat to route ``chain`` that m0's provider answers after ``stall`` seconds; its status."""
    body = {"model": "chain", "messages": [{"role": "user", "content": f"[fault:f0:stall={stall}] hi"}]}

    async def status() -> int:
        async with session.post(f"{running.url}/v1/chat/completions", json=body) as response:
            await response.read()
            return response.status

    return asyncio.ensure_future(status())
