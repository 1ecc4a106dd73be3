"""Policies and fakes shared by the ensemble, gate and shadow tests: fake providers that each give a fixed
reply, a policy naming them m0..mN, and a fake that remembers its requests' connections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
from aiohttp import web

from sidecar.fake_provider import FakeConfig
from sidecar.fake_provider import build_app as build_fake_app

from ..conftest import provider_block
from ..sdk_clients import sdk_client
from .chain import CONNECT

SPEAKS = ("openai", "anthropic", "gemini")


def models_policy(urls: list[str], routes: str, *, speaks: tuple[str, ...] = SPEAKS) -> str:
    """Providers p0..pN (fakes speaking openai, anthropic, gemini in turn), models m0..mN, and ``routes``."""
    text = "version: 1\ndefaults:\n  resilience: {backoff: {base_s: 0.01, cap_s: 0.02}, " + CONNECT + "}\nproviders:\n"
    text += "".join(provider_block(f"p{i}", url, speaks[i % len(speaks)]) for i, url in enumerate(urls))
    prices = [f"price: {{input_per_mtok: {i + 1}, output_per_mtok: {10 * (i + 1)}}}" for i in range(len(urls))]
    text += "models:\n" + "".join(f"  m{i}: {{provider: p{i}, model: up{i}, {prices[i]}}}\n" for i in range(len(urls)))
    return text + "routes:\n" + routes


def ensemble_route(members: str, extra: str = "", name: str = "vote") -> str:
    block = f"  - name: {name}\n    match: {{model: {name}}}\n    ensemble:\n      members: [{members}]\n"
    return block + "".join(f"      {line}\n" for line in extra.splitlines() if line)


class WatchedFake:
    """A fake provider whose requests are kept, to see whether the sidecar closed their connections."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []

    @web.middleware
    async def keep(self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        if not request.path.startswith("/_fake"):
            self.requests.append(request)
        return await handler(request)

    async def closed(self, timeout_s: float = 10.0) -> bool:
        """True once every request's connection is closed (within ``timeout_s``)."""
        for _ in range(int(timeout_s / 0.02)):
            if self.requests and all(r.transport is None or r.transport.is_closing() for r in self.requests):
                return True
            await asyncio.sleep(0.02)
        return False


async def watched_fake(aiohttp_server: Any, **config: Any) -> tuple[str, WatchedFake]:
    watched = WatchedFake()
    app = build_fake_app(FakeConfig(**config))
    app.middlewares.append(watched.keep)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), watched


async def anthropic_stream(url: str, model: str, messages: Any) -> tuple[str, str | None]:
    """The text and stop reason the Anthropic SDK's stream helper reads from the sidecar at ``url``."""
    async with (
        sdk_client(anthropic.AsyncAnthropic, base_url=url, api_key="x") as client,
        client.messages.stream(model=model, max_tokens=64, messages=messages) as stream,
    ):
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    return text, final.stop_reason
