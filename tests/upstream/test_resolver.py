"""Name resolution of upstream calls (``sidecar.upstream.resolver``), through a real ``UpstreamClient`` and
aiohttp's connector, with a resolver the test controls (``ScriptedResolver``): a lookup bounded by the
attempt's ``connect_s`` (one budget with the connect after it), a failed one remembered for a few seconds, then
asked again."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from sidecar.policy.resilience_spec import TimeoutsSpec
from sidecar.upstream import UpstreamClient, request_sent, waited_for_a_connection
from sidecar.upstream.resolver import FAILED_LOOKUP_MEMORY_S, BoundedResolver

from .conftest import BODY, IN_PROCESS_CONNECT_S, ClientFactory, post, provider
from .lookups import ScriptedResolver
from .raw import UpstreamFactory, answering, response


async def post_to(client: UpstreamClient, url: str, connect_s: float = IN_PROCESS_CONNECT_S) -> None:
    """A POST to ``url`` with ``connect_s``; the response (if one comes) is closed."""
    base = url.rsplit("/", 1)[0]
    resp = await client.post(provider(base), url, {}, BODY, TimeoutsSpec(connect_s=connect_s))
    resp.close()


async def test_a_slow_lookup_fails_as_a_connect_timeout_within_connect_s(make_client: ClientFactory) -> None:
    """A name whose lookup takes 30 s: the call fails as aiohttp's ConnectionTimeoutError (the sidecar's
    ``timeout_connect``) after about its connect_s (0.2 s), not when the lookup ends."""
    client = make_client(resolver=ScriptedResolver(slow={"slow.test"}))
    started = time.monotonic()
    async with asyncio.timeout(3):
        with pytest.raises(aiohttp.ConnectionTimeoutError):
            await post_to(client, "http://slow.test:9/v1/chat", connect_s=0.2)
    assert time.monotonic() - started < 1.5


async def test_a_failed_lookup_is_not_asked_again_within_its_memory(make_client: ClientFactory) -> None:
    """A name that does not resolve: the first call asks the resolver and fails (ClientConnectorDNSError);
    the next five within FAILED_LOOKUP_MEMORY_S fail the same way at once, without a lookup."""
    resolver = ScriptedResolver(failing={"down.test"})
    client = make_client(resolver=resolver)
    for _ in range(6):
        with pytest.raises(aiohttp.ClientConnectorDNSError, match="Name or service not known"):
            await post_to(client, "http://down.test:9/v1/chat")
    assert resolver.lookups["down.test"] == 1


async def test_a_timed_out_lookup_is_remembered_too(make_client: ClientFactory) -> None:
    """After a lookup that ran past connect_s, the next call fails at once (a connect timeout again)
    instead of waiting for another slow lookup."""
    resolver = ScriptedResolver(slow={"slow.test"})
    client = make_client(resolver=resolver)
    with pytest.raises(aiohttp.ConnectionTimeoutError):
        await post_to(client, "http://slow.test:9/v1/chat", connect_s=0.2)
    started = time.monotonic()
    with pytest.raises(aiohttp.ConnectionTimeoutError):
        await post_to(client, "http://slow.test:9/v1/chat", connect_s=0.2)
    assert (resolver.lookups["slow.test"], time.monotonic() - started < 0.1) == (1, True)


async def test_concurrent_calls_share_one_bounded_lookup(make_client: ClientFactory) -> None:
    """Twenty calls at once to a slow name: one lookup (aiohttp merges them), and every call fails within
    about connect_s."""
    resolver = ScriptedResolver(slow={"slow.test"})
    client = make_client(resolver=resolver)
    started = time.monotonic()
    async with asyncio.timeout(3):
        outcomes = await asyncio.gather(
            *(post_to(client, "http://slow.test:9/v1/chat", connect_s=0.2) for _ in range(20)), return_exceptions=True
        )
    assert all(isinstance(outcome, aiohttp.ConnectionTimeoutError) for outcome in outcomes), outcomes
    assert (resolver.lookups["slow.test"], time.monotonic() - started < 1.5) == (1, True)


async def test_a_failed_lookup_is_asked_again_after_its_memory(raw_upstream: UpstreamFactory) -> None:
    """Past the failure's memory the resolver is asked again, and a name that resolves now is called."""
    up = await raw_upstream(answering(response(b"back")))
    port = up.base.rsplit(":", 1)[1]
    scripted = ScriptedResolver(failing={"flaky.test"})
    resolver = BoundedResolver(scripted, memory_s=0.2)
    connector = aiohttp.TCPConnector(resolver=resolver)
    async with aiohttp.ClientSession(connector=connector) as session:
        url = f"http://flaky.test:{port}/v1/chat"
        for _ in range(2):
            with pytest.raises(aiohttp.ClientConnectorDNSError):
                await session.post(url, data=BODY)
        assert scripted.lookups["flaky.test"] == 1
        scripted.failing.clear()
        await asyncio.sleep(0.25)
        async with session.post(url, data=BODY) as answer:
            assert await answer.read() == b"back"
    assert scripted.lookups["flaky.test"] == 2


async def test_failures_remembered_are_bounded() -> None:
    """At most ``most`` failed names are remembered: a new one forgets the oldest, which is asked again."""
    scripted = ScriptedResolver(failing={"a.test", "b.test", "c.test"})
    resolver = BoundedResolver(scripted, most=2)
    for host in ("a.test", "b.test", "c.test", "c.test", "b.test", "a.test"):
        with pytest.raises(OSError, match="Name or service not known"):
            await resolver.resolve(host, 443)
    assert (scripted.lookups["a.test"], scripted.lookups["b.test"], scripted.lookups["c.test"]) == (2, 1, 1)


def test_the_memory_is_a_few_seconds() -> None:
    """The documented memory of a failed lookup (docs/operations.md): 5 s."""
    assert FAILED_LOOKUP_MEMORY_S == 5.0


# -- one connect budget: the lookup, then the connect and the TLS handshake ---------------------------------


@pytest.fixture
async def stalled_tls_port() -> AsyncIterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections and then says nothing: a TLS handshake to it
    never ends."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_slow_lookup_then_a_stalled_handshake_share_one_connect_s(
    make_client: ClientFactory, stalled_tls_port: int
) -> None:
    """A lookup taking 0.9 s, then a TLS handshake that never ends: the call fails as a connect timeout
    after about its connect_s (1 s) in all, not 0.9 s + 1 s."""
    client = make_client(resolver=ScriptedResolver(slow={"slow.test"}, delay_s=0.9))
    started = time.monotonic()
    async with asyncio.timeout(5):
        with pytest.raises(aiohttp.ConnectionTimeoutError):
            await post_to(client, f"https://slow.test:{stalled_tls_port}/v1/chat", connect_s=1.0)
    assert time.monotonic() - started < 1.5


HOOK_BROKEN = (
    "aiohttp no longer makes a new connection through TCPConnector._create_connection(req, traces, timeout), "
    "which sidecar.upstream.client._Connector overrides (no public seam bounds the making of a connection "
    "apart from the wait for a free one): a connection being made is no longer marked so, and a connect "
    "timeout is told as a wait for a free connection (upstream_pool_full: no breaker failure, docs/resilience.md), "
    "and connect_s no longer bounds the lookup, the connect and the handshake as one budget. Find where "
    "aiohttp's TCPConnector.connect now makes a connection past its wait, and override that"
)


async def test_a_new_connection_is_made_through_the_connector_method_the_sidecar_overrides(
    make_client: ClientFactory, stalled_tls_port: int
) -> None:
    """``_Connector`` overrides aiohttp's protected ``TCPConnector._create_connection``: a TLS handshake that
    never ends fails as a connect timeout, marked as a connection being made (not a wait for a free one:
    ``waited_for_a_connection`` False). Should aiohttp rename or change that method, this fails naming what
    breaks (``HOOK_BROKEN``)."""
    parameters = list(inspect.signature(aiohttp.TCPConnector._create_connection).parameters)
    assert parameters == ["self", "req", "traces", "timeout"], HOOK_BROKEN
    client = make_client()
    async with asyncio.timeout(5):
        with pytest.raises(aiohttp.ConnectionTimeoutError):
            await post_to(client, f"https://127.0.0.1:{stalled_tls_port}/v1/chat", connect_s=0.2)
    assert not waited_for_a_connection(), HOOK_BROKEN
    assert not request_sent()


async def test_the_wait_for_a_free_connection_is_not_charged_to_connect_s(
    raw_upstream: UpstreamFactory, make_client: ClientFactory
) -> None:
    """At upstream_connections_per_host=1, a second call while the first holds the only connection waits
    past its connect_s (0.3 s) until the caller's deadline (1 s) cuts it, still waiting for a connection
    (``waited_for_a_connection``: the sidecar's own queue) and never sent. Before wave 28 the wait counted
    toward connect_s: a connect timeout after 0.3 s, which the breaker counted against the provider."""
    client = make_client(upstream_connections_per_host=1)
    up = await raw_upstream(answering(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"))  # no body yet
    first = await post(client, up)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError) as cut:
            async with asyncio.timeout(1.0):
                await post(client, up, TimeoutsSpec(connect_s=0.3))
        assert not isinstance(cut.value, aiohttp.ConnectionTimeoutError)
        assert time.monotonic() - started >= 0.9
        assert waited_for_a_connection() and not request_sent()
    finally:
        first.close()
