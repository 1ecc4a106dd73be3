"""Fixtures for the upstream client's tests: an open ``UpstreamClient`` (closed after the test), the
``Provider`` a call names, and a call (``post``; ``read``: its whole body). Every async test here runs
twice: on asyncio's own event loop and on uvloop's (the sidecar's loop in production), whose transports
differ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver

from sidecar.policy.compiled import Provider
from sidecar.policy.resilience_spec import TimeoutsSpec
from sidecar.policy.spec import ProviderKind, TLSSpec
from sidecar.settings import Settings
from sidecar.upstream import EnvProxies, UpstreamClient, UpstreamResponse

from ..event_loops import pytest_asyncio_loop_factories
from .raw import RawUpstream

__all__ = ["pytest_asyncio_loop_factories"]


def provider(base_url: str, *, proxy: str | None = None, tls: TLSSpec | None = None, name: str = "p") -> Provider:
    """A compiled provider at ``base_url`` (its proxy and TLS settings are what a call reads)."""
    return Provider(name, ProviderKind.OPENAI, base_url, None, (), TimeoutsSpec(), None, None, proxy, tls)


ClientFactory = Callable[..., UpstreamClient]

BODY = b'{"model": "m"}'
IN_PROCESS_CONNECT_S = 30.0
"""``connect_s`` for a call to a server in the test's own process, where the limit only guards a hang: the
product's 5 s is a wait a loaded machine can starve the test's event loop of (a TLS handshake on both ends
in one loop; docs/development.md, "A test that is safe next to others"). A test of ``connect_s`` gives its own."""


def timeouts(**given: float) -> TimeoutsSpec:
    """The attempt's timeouts ``given``, with ``IN_PROCESS_CONNECT_S`` unless ``connect_s`` is among them."""
    return TimeoutsSpec(**{"connect_s": IN_PROCESS_CONNECT_S, **given})


TIMEOUTS = timeouts()


async def post(
    client: UpstreamClient, up: RawUpstream, timeouts: TimeoutsSpec = TIMEOUTS, body: bytes = BODY
) -> UpstreamResponse:
    """A JSON POST of ``body`` to ``up`` through ``client``."""
    return await client.post(provider(up.base), up.url, {"content-type": "application/json"}, body, timeouts)


async def read(client: UpstreamClient, up: RawUpstream) -> bytes:
    """Post, read the whole body, close the response (also when reading raises)."""
    resp = await post(client, up)
    try:
        return await resp.read()
    finally:
        resp.close()


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    """``make_client(env={...}, resolver=..., **settings)``: an open ``UpstreamClient`` (looking names up with
    ``resolver``, when given), closed after the test."""
    clients: list[UpstreamClient] = []

    def make(
        *, env: dict[str, str] | None = None, resolver: AbstractResolver | None = None, **settings: Any
    ) -> UpstreamClient:
        resolver_class = None if resolver is None else lambda: resolver
        upstream_client = UpstreamClient(Settings(**settings), EnvProxies(env or {}), resolver_class)
        upstream_client.open()
        clients.append(upstream_client)
        return upstream_client

    yield make
    for upstream_client in clients:
        await upstream_client.close()


@pytest.fixture
async def client(make_client: ClientFactory) -> UpstreamClient:
    return make_client()
