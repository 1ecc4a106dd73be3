"""The Redis store on a real redis-server: round trips, scripts, expiry, credentials, and two pods
sharing one budget under concurrency, cancellation, a killed pod and a killed Redis."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from sidecar.budgets import Admission, BudgetRequest, Ledger
from sidecar.budgets.pricing import NANO_USD, actual_units
from sidecar.budgets.redis_store import RedisStore
from sidecar.budgets.spec import StoreSpec
from sidecar.budgets.store import NO_CAP, CounterRef, Settlement, StoreError
from sidecar.translate import Usage
from tests.resilience.fakes import FakeClock

from ..cache.tls import make_certificates
from ..configmap import configmap_write
from ..waiting import until
from .conftest import MODELS, RedisServer
from .redis_ledgers import DOLLAR, GENEROUS, book, script_calls, today_clock


def ref(key: str, cap: int = NO_CAP) -> CounterRef:
    return CounterRef(f"test:{{budgets}}:c:{key}", int(time.time()) + 600, cap)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    shared = RedisStore(StoreSpec(url=redis_url, key_prefix="test", **GENEROUS))
    yield shared
    await shared.close()


async def test_an_admission_and_a_settlement_are_one_round_trip_each(redis_url: str, redis_server: RedisServer) -> None:
    """With five limits, admission runs one script and settlement one script (after the first load)."""
    limits = [{**DOLLAR, "name": f"l{i}", "window": w} for i, w in enumerate(["minute", "hour", "day", "month", "day"])]
    ledger = book(redis_url, today_clock(), *limits)
    target = [ledger.budgets.target("big")]
    await (await ledger.admit(BudgetRequest(10, 10), target)).settle(None)  # loads the scripts
    before = script_calls(redis_server)
    admission = await ledger.admit(BudgetRequest(10, 10), target)
    after_admit = script_calls(redis_server)
    await admission.settle(Usage(10, 5))
    assert (after_admit - before, script_calls(redis_server) - after_admit) == (1, 1)
    await ledger.close()


async def test_scripts_are_reloaded_after_a_script_flush(store: RedisStore, redis_server: RedisServer) -> None:
    """A server that forgot the scripts (restart, SCRIPT FLUSH) answers NOSCRIPT; the store loads them again."""
    await store.reserve("r1", [ref("a")], [1], time.time(), time.time() + 60)
    with redis_server.client() as client:
        client.script_flush()
    result = await store.reserve("r2", [ref("a")], [1], time.time(), time.time() + 60)
    assert result.uses == (2,)


async def test_a_retried_settlement_counts_once(store: RedisStore) -> None:
    """The same settlement sent twice (a reply lost, then retried) adds the use once."""
    now = time.time()
    await store.reserve("r1", [ref("a")], [50], now, now + 60)
    for _ in range(2):
        await store.settle("r1", [ref("a")], [50], [20], now + 60)
    assert await store.read([ref("a")], now) == (20,)


async def test_a_carried_settlement_sent_again_alone_counts_once(store: RedisStore) -> None:
    """A settlement carried by a later reservation and then sent again on its own (the carrier's reply
    lost, the settlement retried) releases its hold and adds its use once."""
    now = time.time()
    counter = ref("a")
    await store.reserve("r1", [counter], [50], now, now + 60)
    settled = Settlement("r1", [counter], [50], [20], now + 60)
    carried = await store.reserve("r2", [counter], [5], now, now + 60, carried=[settled])
    await store.settle_many([settled])
    assert (carried.uses, await store.read([counter], now)) == ((25,), (25,))


async def test_a_hold_of_nothing_settles_with_the_others(store: RedisStore) -> None:
    """A reservation of 0 on a counter (a fallback's or a hedge's hold on a ``requests`` limit: the request
    is counted already) settles, and the settlements carried with it too (before 2026-12-04 the script
    failed on it, ``HINCRBY ... -0``, after applying part of the batch: the settlements after it were
    sent again, found done, and lost)."""
    now = time.time()
    requests, tokens = ref("requests"), ref("tokens")
    await store.reserve("r1", [requests, tokens], [0, 50], now, now + 60)
    await store.reserve("r2", [tokens], [30], now, now + 60)
    await store.settle_many([Settlement("r1", [requests, tokens], [0, 50], [0, 40], now + 60)])
    await store.settle_many([Settlement("r2", [tokens], [30], [12], now + 60)])
    assert await store.read([requests, tokens], now) == (0, 52)


async def test_counters_expire_with_their_window(store: RedisStore, redis_server: RedisServer) -> None:
    """Each counter's keys carry an expiry (window end plus grace); nothing is kept forever."""
    counter = ref("a")
    await store.reserve("r1", [counter], [5], time.time(), time.time() + 60)
    with redis_server.client() as client:
        expiries = [client.expiretime(counter.key), client.expiretime(counter.key + ":r")]
    assert all(abs(expiry - counter.expires_at) <= 1 for expiry in expiries)  # a lifetime: whole seconds


async def test_keys_share_one_cluster_slot(redis_url: str, redis_server: RedisServer) -> None:
    """Every key the ledger writes carries the {budgets} hash tag under the configured prefix."""
    ledger = book(redis_url, today_clock(), DOLLAR, key_prefix="team-a")
    await (await ledger.admit(BudgetRequest(10, 10), [ledger.budgets.target("big")])).settle(None)
    await ledger.close()
    with redis_server.client() as client:
        keys = [key.decode() for key in client.keys("*")]
    assert keys and all(key.startswith("team-a:{budgets}:") for key in keys)


async def test_the_password_is_read_from_its_file(redis_factory: Callable[..., RedisServer], tmp_path: Path) -> None:
    """A Redis with requirepass accepts the store whose password.file holds the password."""
    server = redis_factory("--requirepass", "s3cret")
    (tmp_path / "password").write_text("s3cret\n")
    spec = StoreSpec.model_validate({"url": server.url, "password": {"file": str(tmp_path / "password")}, **GENEROUS})
    shared = RedisStore(spec)
    try:
        assert (await shared.reserve("r1", [ref("a")], [3], time.time(), time.time() + 60)).uses == (3,)
    finally:
        await shared.close()


async def test_a_wrong_password_is_a_store_error(redis_factory: Callable[..., RedisServer]) -> None:
    """Authentication failure surfaces as StoreError (the ledger's fallback path), not a crash."""
    server = redis_factory("--requirepass", "s3cret")
    spec = StoreSpec.model_validate({"url": server.url, "password": {"env": "BUDGET_REDIS_PASSWORD"}, **GENEROUS})
    shared = RedisStore(spec, env={"BUDGET_REDIS_PASSWORD": "wrong"})
    try:
        with pytest.raises(StoreError):
            await shared.reserve("r1", [ref("a")], [3], time.time(), time.time() + 60)
    finally:
        await shared.close()


async def test_a_rotated_password_file_is_read_by_the_next_connection(
    redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """Redis's password changed and the Secret's file swapped by the kubelet: once Redis drops the store's
    connection, the next one logs in with the password the file holds now (no restart)."""
    server = redis_factory("--requirepass", "old-password")
    configmap_write(tmp_path, {"redis-password": b"old-password\n"}, "2026_12_04_10_00_00.1")
    spec = StoreSpec.model_validate(
        {"url": server.url, "password": {"file": str(tmp_path / "redis-password")}, **GENEROUS}
    )
    shared = RedisStore(spec)
    try:
        assert (await shared.reserve("r1", [ref("a")], [3], time.time(), time.time() + 60)).uses == (3,)
        with server.client(password="old-password") as admin:
            admin.config_set("requirepass", "new-password")
        configmap_write(tmp_path, {"redis-password": b"new-password\n"}, "2026_12_04_10_01_00.2")
        with server.client(password="new-password") as admin:
            assert admin.client_kill_filter(_type="normal", skipme=True) >= 1  # the store's connection
        with contextlib.suppress(StoreError):  # the dropped connection, if the pool still holds it
            await shared.read([ref("a")], time.time())
        assert await shared.read([ref("a")], time.time()) == (3,)
    finally:
        await shared.close()


async def test_an_unreadable_password_file_is_a_store_error(
    redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """A password file gone when a connection opens is a StoreError naming the file (the ledger's
    fallback path), not a crash, and holds no password."""
    server = redis_factory("--requirepass", "s3cret")
    spec = StoreSpec.model_validate({"url": server.url, "password": {"file": str(tmp_path / "gone")}, **GENEROUS})
    shared = RedisStore(spec)
    try:
        with pytest.raises(StoreError, match=r"secret file \S+/gone cannot be read"):
            await shared.reserve("r1", [ref("a")], [3], time.time(), time.time() + 60)
    finally:
        await shared.close()


async def test_an_unreachable_store_fails_within_its_timeout(redis_factory: Callable[..., RedisServer]) -> None:
    """A Redis that is gone costs at most timeout_ms before StoreError."""
    server = redis_factory()
    server.kill()
    shared = RedisStore(StoreSpec(url=server.url, timeout_ms=200, connect_timeout_ms=200))
    started = time.monotonic()
    with pytest.raises(StoreError):
        await shared.read([ref("a")], time.time())
    assert time.monotonic() - started < 1.0
    await shared.close()


async def test_a_rediss_store_checks_the_server_against_the_tls_ca_file(tmp_path: Path) -> None:
    """A rediss:// store talks TLS to a Redis that serves only TLS, verified against ``tls.ca_file``: the
    admission is counted in Redis, not in the pod."""
    server = RedisServer(tmp_path, tls=make_certificates(tmp_path)).launch()
    try:
        assert server.tls is not None
        # a TLS handshake on a loaded machine can take longer than the default 200 ms connect timeout
        generous = {"timeout_ms": 10_000, "connect_timeout_ms": 10_000}
        ledger = book(server.url, today_clock(), DOLLAR, **generous, tls={"ca_file": str(server.tls["ca"])})
        admission = await ledger.admit(BudgetRequest(1000, 1000), [ledger.budgets.target("big")])
        assert (admission.decision.verdict, admission.decision.store) == ("allow", "ok")
        await ledger.close(drain_s=0)
    finally:
        server.kill()


async def test_a_rediss_store_refuses_a_server_of_an_unknown_ca(tmp_path: Path) -> None:
    """Without the server's CA (the system's CAs do not know it) the handshake fails: a store error, and
    the limit (on_store_error: open) counts in the pod."""
    server = RedisServer(tmp_path, tls=make_certificates(tmp_path)).launch()
    try:
        ledger = book(server.url, today_clock(), DOLLAR, timeout_ms=2000)
        admission = await ledger.admit(BudgetRequest(1000, 1000), [ledger.budgets.target("big")])
        assert (admission.decision.verdict, admission.decision.store) == ("allow", "fallback")
        assert ledger.stats.store_errors == 1
        await ledger.close(drain_s=0)
    finally:
        server.kill()


async def share_one_dollar(redis_url: str, redis_server: RedisServer, *, carried: bool) -> None:
    """Two ledgers on one Redis, 400 concurrent calls with random sizes, durations and cancellations:
    the spend ends within $1 plus one reservation, equals the sum of what was charged, and holds nothing.
    (It may end below $1: a call refused while others held room is not retried when they settle lower.)
    ``carried``: settle as the request path does (``charge``: the next admission carries it), else
    ``await settle``."""
    rng = random.Random(22)
    clock = today_clock()
    pods = [
        book(redis_url, clock, DOLLAR),
        book(redis_url, clock, DOLLAR),
    ]  # GENEROUS: a loaded machine must not fall back
    price = MODELS["big"].price
    charged: list[int] = []
    denied: list[int] = []
    largest = 0

    async def settle(admission: Admission, usage: Usage) -> None:
        if carried:
            admission.charge(usage)
        else:
            await admission.settle(usage)

    async def call(pod: Ledger) -> None:
        nonlocal largest
        prompt, max_out = rng.randint(100, 3000), rng.randint(50, 2000)
        admission = await pod.admit(BudgetRequest(prompt, max_out), [pod.budgets.target("big")])
        if admission.decision.verdict == "deny":
            denied.append(1)
            return
        largest = max(largest, int((prompt * 10 + max_out * 30) * 1000))
        out = 0
        try:
            for _ in range(rng.randint(1, 5)):
                await asyncio.sleep(rng.random() / 200)
                out = min(max_out, out + rng.randint(0, max_out // 2))
            usage = Usage(prompt, out)
            await settle(admission, usage)
            charged.append(actual_units(price, usage)[0])
        except asyncio.CancelledError:
            usage = Usage(prompt, out)  # a cancelled stream settles what was used so far
            admission.charge(usage)
            charged.append(actual_units(price, usage)[0])
            raise

    tasks = [asyncio.create_task(call(pods[i % 2])) for i in range(400)]
    try:
        for _ in range(60):
            await asyncio.sleep(rng.random() / 100)
            rng.choice(tasks).cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await asyncio.gather(*tasks, return_exceptions=True)
        for pod in pods:  # also when an assertion fails: a pool left open fails a later test (ResourceWarning)
            await pod.close()
    assert all(isinstance(r, (type(None), asyncio.CancelledError)) for r in results)
    assert [pod.stats.store_errors for pod in pods] == [0, 0]
    with redis_server.client() as client:
        key = next(k for k in client.keys("*dollar*") if not k.endswith(b":r"))
        used, held = (int(v or 0) for v in client.hmget(key, "u", "h"))
        holds = client.zcard(key + b":r")
    assert (held, holds) == (0, 0)
    assert used == sum(charged)
    assert used <= NANO_USD + largest
    assert denied and used > NANO_USD / 2  # the budget was binding, not merely large
    assert sum(isinstance(r, asyncio.CancelledError) for r in results) > 0


async def test_two_pods_sharing_one_dollar_overshoot_by_at_most_one_reservation(
    redis_url: str, redis_server: RedisServer
) -> None:
    """Two pods sharing $1, each settlement awaited: within $1 plus one reservation, nothing leaked."""
    await share_one_dollar(redis_url, redis_server, carried=False)


async def test_settlements_carried_by_later_admissions_keep_two_pods_within_one_reservation(
    redis_url: str, redis_server: RedisServer
) -> None:
    """The same with the request path's settlements, carried by each pod's next admission (or sent
    after the carry delay): still within $1 plus one reservation, equal to what was charged."""
    await share_one_dollar(redis_url, redis_server, carried=True)


async def test_a_killed_pods_reservations_expire(redis_url: str) -> None:
    """Holds of a pod that died without settling stop counting once their TTL has passed by Redis's
    clock (here one second: ``reservation_ttl_s`` is at least 10)."""
    spec = StoreSpec(url=redis_url, key_prefix="test", **GENEROUS)
    doomed, survivor = RedisStore(spec), RedisStore(spec)
    counter = CounterRef("test:{budgets}:c:killed", int(time.time()) + 3600, 10)
    try:
        for n in range(3):
            now = time.time()
            assert (await doomed.reserve(f"d{n}", [counter], [3], now, now + 1)).refused == -1
        now = time.time()
        assert (await survivor.reserve("s1", [counter], [3], now, now + 900)).refused == 0
        await asyncio.sleep(1.2)
        now = time.time()
        assert (await survivor.reserve("s2", [counter], [10], now, now + 900)) == (-1, (10,))
    finally:
        await doomed.close()
        await survivor.close()


async def test_the_documented_acl_is_enough(redis_url: str, redis_server: RedisServer) -> None:
    """A Redis ACL user with exactly the permissions docs/budgets.md lists can reserve, settle and read."""
    with redis_server.client() as client:
        client.execute_command(
            "ACL", "SETUSER", "sidecar", "on", ">pw", "~llm-sidecar:{budgets}:*", "+ping", "+evalsha", "+eval",
            "+script|load", "+zrangebyscore", "+zremrangebyscore", "+zadd", "+zrem", "+hincrby", "+hmget",
            "+expire", "+set", "+time",
        )  # fmt: skip
    spec = StoreSpec.model_validate(
        {
            "url": redis_url,
            "username": "sidecar",
            "password": {"env": "P"},
            "timeout_ms": 5000,
            "connect_timeout_ms": 5000,
        }
    )
    shared = RedisStore(spec, env={"P": "pw"})
    counter = CounterRef("llm-sidecar:{budgets}:c:a", int(time.time()) + 600, 10)
    try:
        await shared.reserve("r1", [counter], [4], time.time(), time.time() + 60)
        await shared.settle("r1", [counter], [4], [3], time.time() + 60)
        assert await shared.read([counter], time.time()) == (3,)
    finally:
        await shared.close()
        with redis_server.client() as client:
            client.execute_command("ACL", "DELUSER", "sidecar")


@pytest.mark.parametrize("skew_s", [-600, 600])
async def test_a_pods_clock_off_from_redis_still_counts(redis_url: str, skew_s: int) -> None:
    """A pod whose clock is ten minutes behind (or ahead of) Redis's: a one-request-a-minute limit still
    denies the second request (its counters are not expired by Redis the moment they are written)."""
    ledger = book(
        redis_url,
        FakeClock(time.time() + skew_s),
        {"name": "rpm", "measure": "requests", "amount": 1, "window": "minute"},
    )
    target = [ledger.budgets.target("big")]
    first = await ledger.admit(BudgetRequest(10, 10), target)
    assert first.decision.verdict == "allow"
    await first.settle(Usage(10, 5))
    second = await ledger.admit(BudgetRequest(10, 10), target)
    assert (second.decision.verdict, second.decision.store) == ("deny", "ok")
    await ledger.close()


@pytest.mark.parametrize("skew_s", [-1000, 1000])
async def test_a_pod_whose_clock_is_off_neither_frees_nor_keeps_anothers_holds(redis_url: str, skew_s: int) -> None:
    """Two pods on one Redis, one's clock ``skew_s`` off (more than a 900 s reservation TTL): a hold on
    the whole budget by either pod denies the other, and a hold expires when its lifetime has passed by
    Redis's clock (a one-second hold of the skewed pod frees room a second later). Holds expired by each
    pod's own clock: the pod ahead purged the other's holds at once and spent past the cap; the pod
    behind had its holds purged by the other at once."""
    spec = StoreSpec(url=redis_url, key_prefix="test", **GENEROUS)
    pods = [RedisStore(spec), RedisStore(spec)]
    clocks: list[Callable[[], float]] = [time.time, lambda: time.time() + skew_s]

    async def reserve(pod: int, counter: CounterRef, amount: int, ttl_s: float) -> bool:
        now = clocks[pod]()
        return (await pods[pod].reserve(f"r{random.random()}", [counter], [amount], now, now + ttl_s)).refused == -1

    try:
        for holder, other in ((0, 1), (1, 0)):
            counter = CounterRef(f"test:{{budgets}}:c:skew{skew_s}:{holder}", int(time.time()) + 3600, 10)
            assert await reserve(holder, counter, 10, 900)
            assert not await reserve(other, counter, 1, 900), f"pod {other} freed pod {holder}'s hold"
        counter = CounterRef(f"test:{{budgets}}:c:skew{skew_s}:short", int(time.time()) + 3600, 10)
        assert await reserve(1, counter, 10, 1)
        await asyncio.sleep(1.2)  # Redis's clock passes the skewed pod's one-second hold
        assert await reserve(0, counter, 10, 900)
    finally:
        for pod in pods:
            await pod.close()


async def test_a_command_is_not_sent_under_asyncio_wait_for(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's commands are not sent under ``asyncio.wait_for`` (redis-py uses it when the client has a
    ``socket_timeout``): on Python 3.11 it returns a result that was ready when a cancel came and drops the
    cancel, so a request whose app left during its reservation ran on to the end of its chain (wave 30's
    soak). The store's own ``timeout_ms`` bounds each call instead (the next test)."""
    waited: list[object] = []
    wait_for = asyncio.wait_for

    async def recording_wait_for(awaitable: object, timeout: float | None) -> object:
        waited.append(awaitable)
        return await wait_for(awaitable, timeout)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncio, "wait_for", recording_wait_for)
    now = time.time()
    await store.reserve("r1", [ref("a")], [1], now, now + 60)
    await store.settle("r1", [ref("a")], [1], [1], now + 60)
    assert waited == []


async def test_a_command_redis_does_not_answer_fails_within_the_timeout(
    redis_factory: Callable[..., RedisServer],
) -> None:
    """Redis holding every client (``CLIENT PAUSE ... ALL``) answers nothing: the reservation is a
    ``StoreError`` after about ``timeout_ms``, not a wait for Redis (the client has no socket timeout of
    its own)."""
    server = redis_factory()
    shared = RedisStore(StoreSpec(url=server.url, timeout_ms=300, connect_timeout_ms=5000))
    now = time.time()

    async def warmed() -> bool:
        """Connected, the script loaded: a loaded machine may take longer than 300 ms for that."""
        with contextlib.suppress(StoreError):
            await shared.reserve("r0", [ref("a")], [1], now, now + 60)
            return True
        return False

    await until(warmed, timeout_s=30)
    with server.client() as client:
        client.execute_command("CLIENT", "PAUSE", 3000, "ALL")
    started = time.monotonic()
    with pytest.raises(StoreError):
        await shared.reserve("r1", [ref("a")], [1], now, now + 60)
    assert time.monotonic() - started < 2.5
    await shared.close()
