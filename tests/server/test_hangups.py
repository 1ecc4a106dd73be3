"""A caller that hangs up on the strategies ``test_feature_cancel`` does not cover, or in ways it does
not check: while a hedge waits to start its race and during the race, during a 429's ``Retry-After``
wait, during a fallback to a target of another dialect, during a stream's wait for its first byte,
while queued for a bulkhead slot, during an ensemble, while a quality gate escalates to the next model
(streamed or not), and around a shadow call (which is not cancelled with the caller: it runs in the
background once the caller has its answer). Each time the fake sees its connection closed, no task is
left behind, the access line says 499 ``client_closed``, and budgets (in memory and in a real Redis)
charge what the provider received and hold nothing. Real sidecar on a real port, fakes that stall, a
client that drops its connection."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest

from ..conftest import RunningSidecar, SidecarFactory
from ..redis_server import RedisServer
from ..waiting import until
from .callers import leave_once
from .ensemble_policies import ensemble_route, models_policy, watched_fake

MESSAGES: Any = [{"role": "user", "content": "Which queue does this ticket go to?"}]
SHADOWED = "  - name: served\n    match: {model: served}\n    target: m0\n    shadow: {candidates: [m1], sample: 1.0}\n"


async def leave_after(running: RunningSidecar, body: dict[str, Any], seconds: float) -> None:
    """Send ``body`` and drop the connection after ``seconds`` (the caller goes away)."""
    async with aiohttp.ClientSession() as session:
        task = asyncio.ensure_future(session.post(f"{running.url}/v1/chat/completions", json=body))
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def tasks() -> int:
    """The tasks on the loop, but for the servers' tasks of kept-alive connections (a call's connection
    that went back to the pool: the fake's end of it)."""
    return sum(getattr(t.get_coro(), "__qualname__", "") != "RequestHandler.start" for t in asyncio.all_tasks())


async def settled(baseline: int, timeout_s: float = 10.0) -> int:
    """The number of ``tasks`` once it falls back to ``baseline`` (or after ``timeout_s``)."""
    for _ in range(int(timeout_s / 0.02)):
        count = tasks()
        if count <= baseline:
            return count
        await asyncio.sleep(0.02)
    return tasks()


def last_access(running: RunningSidecar) -> dict[str, Any]:
    return [line for line in running.log_lines() if line.get("event") == "access"][-1]


async def left_access(running: RunningSidecar) -> dict[str, Any]:
    """The access line of the request whose caller left (499), once it is written."""
    lines = await until(lambda: [line for line in running.log_lines() if line.get("status") == 499])
    return lines[-1]


def queued(running: RunningSidecar, target: str) -> int:
    """The requests waiting for a slot of ``target``'s bulkhead (``p0/up0``)."""
    return int(running.state.targets.snapshot()[target]["bulkhead"]["queued"])


LATER: Any = [{"role": "user", "content": "A later question."}]


async def answered_by_the_hedge(running: RunningSidecar) -> int:
    """The status of a chat request with ``LATER``'s messages, sent now and waited for (on the hedged chain,
    a stalled first call: the hedge's answer, its race begun ``after_s`` from now)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json={"model": "chain", "messages": LATER}) as answer,
    ):
        await answer.read()
        return answer.status


async def contents(request: Any) -> Any:
    """The messages of a request a watched fake received."""
    return (await request.json())["messages"]


def chain_policy(urls: list[str], resilience: str, speaks: tuple[str, ...] = ("openai",)) -> str:
    route = f"  - name: chain\n    match: {{model: chain}}\n    target: [m0, m1]\n    resilience: {resilience}\n"
    return models_policy(urls, route, speaks=speaks)


async def test_leaving_before_a_hedge_starts_its_race_closes_the_first_call(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """A hedge waiting 2 s for the first call's first byte: the caller leaves once that call is made, the
    first call's connection is closed and the hedge is never called (a later request's hedge, started
    2 s after the one that left would have been, is the only call the second target sees)."""
    first_url, first = await watched_fake(aiohttp_server, name="f0", latency_ms=5000)
    second_url, second = await watched_fake(aiohttp_server, name="f1")
    running = await sidecar(chain_policy([first_url, second_url], "{hedge: {after_s: 2}}"))
    baseline = tasks()
    await leave_once(running, {"model": "chain", "messages": MESSAGES}, lambda: first.requests)
    assert await first.closed()
    assert await settled(baseline) <= baseline
    access = last_access(running)
    assert (access["status"], access["outcome"]) == (499, "client_closed")
    assert await answered_by_the_hedge(running) == 200  # past the first's after_s: its race would have begun
    assert [await contents(request) for request in second.requests] == [LATER]


async def test_leaving_during_a_hedged_race_closes_both_calls(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """Both racers stalled: the caller leaves once the race runs, both connections are closed."""
    watched = [await watched_fake(aiohttp_server, name=f"f{i}", latency_ms=5000) for i in range(2)]
    running = await sidecar(chain_policy([u for u, _ in watched], "{hedge: {after_s: 0.1}}"))
    baseline = tasks()
    await leave_once(running, {"model": "chain", "messages": MESSAGES}, lambda: all(f.requests for _, f in watched))
    for _, fake in watched:
        assert await fake.closed()
    assert await settled(baseline) <= baseline
    assert last_access(running)["status"] == 499


async def test_leaving_during_a_rate_limit_wait_makes_no_retry(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """A 429 asking to retry in 2 s: the caller leaves during the wait, the target is not called again
    (a later request's retry, due 2 s after the one that left would have been, comes first), and the
    access line and metrics say the client closed."""
    url, watched = await watched_fake(aiohttp_server, name="f0", fault="status=429;after=2", fault_rate=1)
    running = await sidecar(models_policy([url], "  - {name: chain, match: {model: chain}, target: [m0]}\n"))
    baseline = tasks()
    await leave_once(running, {"model": "chain", "messages": MESSAGES}, lambda: watched.requests)  # answered at once
    assert await settled(baseline) <= baseline
    async with (  # a later request: its retry, 2 s after its own 429, is sent and answered (429 again)
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json={"model": "chain", "messages": LATER}) as later,
    ):
        assert later.status == 429 and later.headers["x-sidecar-attempts"] == "2"
    assert [await contents(request) for request in watched.requests] == [MESSAGES, LATER, LATER]
    access = await left_access(running)
    assert (access["status"], access["outcome"]) == (499, "client_closed")
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as answer:
        metrics = await answer.text()
    assert 'outcome="client_closed"' in metrics
    assert "\nllm_sidecar_requests_in_flight 0.0\n" in metrics  # the request that left is not in flight


async def test_leaving_during_a_fallback_to_another_dialect_closes_its_call(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """The first target fails (500), the next speaks Anthropic and stalls: the caller leaves, the
    translated call's connection is closed."""
    first_url, _ = await watched_fake(aiohttp_server, name="f0", fault="status=500", fault_rate=1)
    second_url, second = await watched_fake(aiohttp_server, name="f1", latency_ms=5000)
    running = await sidecar(chain_policy([first_url, second_url], "{}", speaks=("openai", "anthropic")))
    baseline = tasks()
    await leave_once(running, {"model": "chain", "messages": MESSAGES}, lambda: second.requests)
    assert second.requests[0].path == "/v1/messages"
    assert await second.closed()
    assert await settled(baseline) <= baseline
    assert last_access(running)["status"] == 499


async def test_leaving_a_stream_before_its_first_byte_closes_the_call(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """A stream whose upstream sends no head for 5 s: the caller leaves, the call's connection is closed."""
    url, watched = await watched_fake(aiohttp_server, name="f0", latency_ms=5000)
    running = await sidecar(models_policy([url], "  - {name: chain, match: {model: chain}, target: [m0]}\n"))
    baseline = tasks()
    await leave_once(running, {"model": "chain", "messages": MESSAGES, "stream": True}, lambda: watched.requests)
    assert await watched.closed()
    assert await settled(baseline) <= baseline
    access = last_access(running)
    assert (access["status"], access["outcome"]) == (499, "client_closed")


async def test_a_shadow_call_outlives_a_caller_that_hung_up(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """The caller reads its answer and hangs up at once; the shadow candidate's call (0.5 s) is not
    cancelled with it: it answers and is compared (shadows run in the background, docs/ensembles.md)."""
    served_url, _ = await watched_fake(aiohttp_server, name="f0", reply="Billing")
    shadow_url, shadow = await watched_fake(aiohttp_server, name="f1", reply="Billing", latency_ms=500)
    route = (
        "  - name: served\n    match: {model: served}\n    target: m0\n    shadow: {candidates: [m1], sample: 1.0}\n"
    )
    running = await sidecar(models_policy([served_url, shadow_url], route, speaks=("openai",)))
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json={"model": "served", "messages": MESSAGES}) as r,
    ):
        assert r.status == 200 and r.headers["x-sidecar-shadow"] == "sampled"
        await r.read()
    # the session, and with it the caller's connection, is closed
    for _ in range(100):
        async with aiohttp.ClientSession() as session, session.get(f"{running.url}/status") as answer:
            rows = (await answer.json())["shadow"]
        if rows and rows[0]["compared"]:
            break
        await asyncio.sleep(0.02)
    assert rows[0]["compared"] == 1 and rows[0]["failed"] == 0
    assert len(shadow.requests) == 1


async def test_a_caller_that_hangs_up_before_its_answer_starts_no_shadow(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """The served call stalls and the caller leaves: there is no served answer to compare, so no shadow
    call is made."""
    served_url, served = await watched_fake(aiohttp_server, name="f0", latency_ms=5000)
    shadow_url, shadow = await watched_fake(aiohttp_server, name="f1")
    route = (
        "  - name: served\n    match: {model: served}\n    target: m0\n    shadow: {candidates: [m1], sample: 1.0}\n"
    )
    running = await sidecar(models_policy([served_url, shadow_url], route, speaks=("openai",)))
    await leave_once(running, {"model": "served", "messages": MESSAGES}, lambda: served.requests)
    assert await served.closed()
    assert (await left_access(running))["outcome"] == "client_closed"  # the request is over
    await running.shadow_calls_ended()  # a shadow call, started before the access line, has ended
    assert shadow.requests == []


def counter_of(redis: RedisServer) -> tuple[int, int]:
    """The token counter's (used, held) in the shared store."""
    return redis.budget_counter("tokens")


async def test_leaving_an_ensemble_releases_its_holds_in_a_shared_store(
    aiohttp_server: Any, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """Budgets in a real Redis: while a stalled ensemble runs its members' reservations are held there;
    once its caller leaves nothing stays held, and only the prompts the members received are charged."""
    watched = [await watched_fake(aiohttp_server, name=f"f{i}", reply="bug", latency_ms=3000) for i in range(2)]
    policy = models_policy([u for u, _ in watched], ensemble_route("m0, m1"), speaks=("openai",))
    policy += (
        f"budgets:\n  store: {{url: '{redis_server.url}', timeout_ms: 10000, connect_timeout_ms: 10000}}\n  limits:\n"
        "    - {name: tokens, measure: tokens, amount: 100000000, window: month, scope: {by: global}}\n"
    )
    running = await sidecar(policy)

    def holding() -> bool:  # the members' reserved output (4096 tokens a call), held while they run (3 s)
        return redis_server.budget_counter("tokens", missing_ok=True)[1] > 8192 and all(f.requests for _, f in watched)

    await leave_once(running, {"model": "vote", "messages": MESSAGES}, holding)
    for _, fake in watched:
        assert await fake.closed()
    used, _ = await until(lambda: counter_of(redis_server), lambda counter: counter[1] == 0)
    assert 0 < used < 1000  # the prompts the members received, not the output never generated


async def budget_used(running: RunningSidecar) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/status") as answer:
        return float((await answer.json())["budgets"][0]["used"])


TOKENS = (
    "budgets:\n  limits:\n"
    "    - {name: tokens, measure: tokens, amount: 100000000, window: month, scope: {by: global}}\n"
)


async def test_leaving_during_a_rate_limit_wait_charges_nothing(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """The only call made was refused (429: billed nothing) and the caller leaves while the sidecar
    waits to retry: nothing is charged, as for a request that failed, and nothing stays held."""
    url, watched = await watched_fake(aiohttp_server, name="f0", fault="status=429;after=2", fault_rate=1)
    running = await sidecar(models_policy([url], "  - {name: chain, match: {model: chain}, target: [m0]}\n") + TOKENS)
    await leave_once(running, {"model": "chain", "messages": MESSAGES}, lambda: watched.requests)  # answered at once
    assert await until(lambda: budget_used(running), lambda used: used == 0) == 0  # once released


async def test_leaving_during_a_call_charges_its_prompt(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """The caller leaves while the retry after a 429 is in flight (each call takes 1 s): the prompt that
    call sent is charged (the provider bills it), the output never generated is not."""
    url, watched = await watched_fake(
        aiohttp_server, name="f0", fault="status=429;after=0.1;times=1", fault_rate=1, latency_ms=1000
    )
    running = await sidecar(models_policy([url], "  - {name: chain, match: {model: chain}, target: [m0]}\n") + TOKENS)
    await leave_once(running, {"model": "chain", "messages": MESSAGES}, lambda: len(watched.requests) == 2)
    assert await watched.closed()
    assert 0 < await until(lambda: budget_used(running), lambda used: 0 < used < 1000) < 1000  # once settled


async def test_leaving_while_queued_for_a_bulkhead_slot_makes_no_call(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """One slot, taken by a 2 s call: a second request waits for it and its caller leaves. Its access
    line counts no call (none was made) and the budget charges only the first request's usage."""
    url, watched = await watched_fake(aiohttp_server, name="f0", latency_ms=2000)
    policy = models_policy([url], "  - {name: chain, match: {model: chain}, target: [m0]}\n") + TOKENS
    running = await sidecar(
        policy.replace("defaults:\n", "defaults:\n  bulkhead: {max_concurrent: 1, queue_timeout_s: 5}\n")
    )
    body = {"model": "chain", "messages": MESSAGES}
    async with aiohttp.ClientSession() as session:
        holding = asyncio.ensure_future(session.post(f"{running.url}/v1/chat/completions", json=body))
        await until(lambda: watched.requests)  # the slot is taken
        await leave_once(running, body, lambda: queued(running, "p0/up0") == 1)
        access = await left_access(running)
        assert (access["status"], access["attempts"]) == (499, 0)
        async with await holding as answer:
            usage = (await answer.json())["usage"]
    assert len(watched.requests) == 1
    charged = usage["prompt_tokens"] + usage["completion_tokens"]
    assert await until(lambda: budget_used(running), lambda used: used == charged) == charged  # once settled


async def test_leaving_while_queued_after_a_refused_call_charges_nothing(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """The first target refuses (503: billed nothing); the second's one slot is taken by a 2 s call, and
    the caller leaves while queued for it. No call of this request reached a model: the budget charges
    only the other request's usage, and the access line no prompt (the queued call was counted as a call
    in flight: a prompt charged, and logged, for a call never made)."""
    refusing, _ = await watched_fake(aiohttp_server, name="f0", fault="status=503", fault_rate=1)
    url, watched = await watched_fake(aiohttp_server, name="f1", latency_ms=2000)
    routes = (
        "  - {name: chain, match: {model: chain}, target: [m0, m1]}\n"
        "  - {name: direct, match: {model: direct}, target: [m1]}\n"
    )
    policy = models_policy([refusing, url], routes) + TOKENS
    running = await sidecar(
        policy.replace("defaults:\n", "defaults:\n  bulkhead: {max_concurrent: 1, queue_timeout_s: 5}\n")
    )
    async with aiohttp.ClientSession() as session:
        body = {"model": "direct", "messages": MESSAGES}
        holding = asyncio.ensure_future(session.post(f"{running.url}/v1/chat/completions", json=body))
        await until(lambda: watched.requests)  # the slot is taken
        await leave_once(running, {"model": "chain", "messages": MESSAGES}, lambda: queued(running, "p1/up1") == 1)
        access = await left_access(running)
        assert (access["status"], access["attempts"]) == (499, 1)
        assert access["attempt_log"] == ["m0:overloaded", "m1:cancelled"]
        assert "cost_usd" not in access and "input_tokens" not in access
        async with await holding as answer:
            usage = (await answer.json())["usage"]
    assert len(watched.requests) == 1
    charged = usage["prompt_tokens"] + usage["completion_tokens"]
    assert await until(lambda: budget_used(running), lambda used: used == charged) == charged  # once settled


async def test_leaving_an_ensemble_charges_every_members_prompt(aiohttp_server: Any, sidecar: SidecarFactory) -> None:
    """Three members stalled 5 s: the caller leaves after 0.5 s, when each member's prompt was sent. The
    budget is charged three prompts, as much as three times a one-target route's cut call with the same
    body (before: one prompt, whatever the number of calls in flight)."""
    watched = [await watched_fake(aiohttp_server, name=f"f{i}", reply="bug", latency_ms=5000) for i in range(3)]
    routes = ensemble_route("m0, m1, m2") + "  - {name: one, match: {model: one}, target: [m0]}\n"
    running = await sidecar(models_policy([u for u, _ in watched], routes, speaks=("openai",)) + TOKENS)
    await leave_once(running, {"model": "one", "messages": MESSAGES}, lambda: watched[0][1].requests, compact=True)
    one_prompt = await until(lambda: budget_used(running), lambda used: 0 < used < 50)  # the cut call settled
    members = [2, 1, 1]  # f0 has the one-target call's request too
    at_members = lambda: [len(fake.requests) for _, fake in watched] == members  # noqa: E731
    await leave_once(running, {"model": "vote", "messages": MESSAGES}, at_members, compact=True)
    for _, fake in watched:
        assert await fake.closed()
    assert 0 < one_prompt < 50
    four = one_prompt * 4  # the one-target call, then the three members
    assert await until(lambda: budget_used(running), lambda used: used == four) == four
    access = last_access(running)
    assert access["status"] == 499 and access["cost_usd"] == pytest.approx(3 * one_prompt * (1 + 2 + 3) / 3e6)


@pytest.mark.parametrize("stream", [False, True])
async def test_leaving_an_ensemble_leaves_no_task_behind(
    aiohttp_server: Any, sidecar: SidecarFactory, stream: bool
) -> None:
    """Three stalled members: once the caller has left, the loop holds no more tasks than before (no
    member, judge or walk left running), and the access line says 499 client_closed."""
    watched = [await watched_fake(aiohttp_server, name=f"f{i}", reply="bug", latency_ms=5000) for i in range(3)]
    route = ensemble_route("m0, m1, m2", "strategy: judge\njudge: {target: m0}")
    running = await sidecar(models_policy([u for u, _ in watched], route, speaks=("openai",)))
    baseline = tasks()
    body = {"model": "vote", "messages": MESSAGES, "stream": stream}
    await leave_once(running, body, lambda: all(fake.requests for _, fake in watched))
    for _, fake in watched:
        assert await fake.closed()
    assert await settled(baseline) <= baseline
    access = last_access(running)
    assert (access["status"], access["outcome"]) == (499, "client_closed")


def commands(*command: tuple[str, ...]) -> bytes:
    """Redis commands in its wire format (RESP), to be sent in one write."""
    parts = [f"*{len(words)}\r\n" + "".join(f"${len(word)}\r\n{word}\r\n" for word in words) for words in command]
    return "".join(parts).encode()


async def test_leaving_during_a_slow_admission_in_a_shared_store_holds_nothing(
    aiohttp_server: Any, sidecar: SidecarFactory, start_redis: Any
) -> None:
    """Redis holds a request's admission (its writes paused, then busy for 2 s: DEBUG SLEEP) and the caller
    leaves meanwhile: once Redis has run the reservation, it is released, not held for
    ``reservation_ttl_s``, and the call is not made."""
    redis = start_redis("--enable-debug-command", "yes")
    url, watched = await watched_fake(aiohttp_server, name="f0")
    policy = models_policy([url], "  - {name: chain, match: {model: chain}, target: [m0]}\n")
    policy += f"budgets:\n  store: {{url: '{redis.url}', timeout_ms: 10000}}\n" + TOKENS.removeprefix("budgets:\n")
    running = await sidecar(policy)
    body = {"model": "chain", "messages": MESSAGES}
    async with aiohttp.ClientSession() as session, session.post(f"{running.url}/v1/chat/completions", json=body) as r:
        assert r.status == 200  # the counter exists, the connection to Redis is open
    used_before, _ = await until(lambda: counter_of(redis), lambda counter: counter[1] == 0)  # its settlement, carried

    with redis.client() as control, socket.create_connection(("127.0.0.1", redis.port)) as busy:
        control.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")  # in force once it answers
        async with aiohttp.ClientSession() as session:
            leaving = asyncio.ensure_future(session.post(f"{running.url}/v1/chat/completions", json=body))
            await until(lambda: control.info("clients")["blocked_clients"], lambda held: held == 1)  # its EVALSHA
            # Redis reads these before the sidecar's connection closes below, and runs the reservation it
            # holds only after the sleep: a command of a client gone while paused would be dropped instead.
            busy.sendall(commands(("CLIENT", "UNPAUSE"), ("DEBUG", "SLEEP", "2")))
            leaving.cancel()  # the caller leaves
            await asyncio.gather(leaving, return_exceptions=True)
    assert await until(lambda: counter_of(redis), lambda counter: counter[1] == 0) == (used_before, 0)
    assert len(watched.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_leaving_while_a_gate_escalates_closes_the_next_call(
    aiohttp_server: Any, sidecar: SidecarFactory, stream: bool
) -> None:
    """A gated route: the first model's answer fails the gate, the next model (called for a better one)
    stalls; the caller leaves, that call's connection is closed and no task is left behind."""
    first_url, _ = await watched_fake(aiohttp_server, name="f0", reply="maybe")
    second_url, second = await watched_fake(aiohttp_server, name="f1", reply="yes", latency_ms=5000)
    route = "  - name: gated\n    match: {model: gated}\n    target: [m0, m1]\n    gates: {regex: {pattern: '^yes$'}}\n"
    running = await sidecar(models_policy([first_url, second_url], route, speaks=("openai",)))
    baseline = tasks()
    await leave_once(running, {"model": "gated", "messages": MESSAGES, "stream": stream}, lambda: second.requests)
    assert await second.closed()
    assert await settled(baseline) <= baseline
    access = last_access(running)
    assert (access["status"], access["outcome"]) == (499, "client_closed")
    assert access["gate_rejections"] == ["m0:regex"]
