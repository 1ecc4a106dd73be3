"""The seams stages plug into: a stream tap sees the caller's answer in the common form, a chain hook
skips a target before it is called or refuses an answer (a held stream included)."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from aiohttp.web import StreamResponse

from sidecar.cache import StreamAssembler
from sidecar.cache.entry import TextPiece
from sidecar.dialects import Dialect
from sidecar.held_bytes import HeldBytes
from sidecar.policy.compiled import Target
from sidecar.server.exchange import Exchange
from sidecar.server.hooks import Verdict
from sidecar.server.pipeline import Handler
from sidecar.server.stream_answer import HeldStream, StreamHold
from sidecar.translate.deltas import Delta

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from .chain import CONNECT


def chain_policy(urls: list[str]) -> str:
    text = "version: 1\ndefaults:\n  resilience: {backoff: {base_s: 0.01, cap_s: 0.02}, " + CONNECT + "}\nproviders:\n"
    text += "".join(provider_block(f"p{i}", url, "openai") for i, url in enumerate(urls))
    text += "models:\n" + "".join(f"  m{i}: {{provider: p{i}, model: up{i}}}\n" for i in range(len(urls)))
    return (
        text
        + "routes:\n  - {name: chain, match: {model: chain}, target: ["
        + ", ".join(f"m{i}" for i in range(len(urls)))
        + "]}\n"
    )


class AssemblingTap:
    """A tap as the cache will use one: the cache's own assembler, fed what the caller gets."""

    def __init__(self) -> None:
        self.assembler = StreamAssembler(Dialect.OPENAI, 1 << 20)
        self.opened: list[str] = []
        self.closed: list[bool] = []

    def open(self, target: Target) -> None:
        self.opened.append(target.name)

    def feed(self, delta: Delta) -> None:
        self.assembler.feed(delta)

    def close(self, clean: bool) -> None:
        self.closed.append(clean)


def tap_stage(tap: AssemblingTap) -> Any:
    async def stage(exchange: Exchange, call_next: Handler) -> StreamResponse:
        exchange.taps = (*exchange.taps, tap)
        return await call_next(exchange)

    return stage


async def stream_text(running: RunningSidecar, fault: str = "") -> tuple[dict[str, str], str]:
    body = {"model": "chain", "stream": True, "messages": [{"role": "user", "content": "tap this answer"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body, headers={"x-fake-fault": fault}) as response,
    ):
        return {k.lower(): v for k, v in response.headers.items()}, (await response.read()).decode()


async def test_a_tap_sees_the_answer_the_caller_got_not_a_failed_first_try(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """After a first target fails before its commit point, the tap is shown only the second's stream,
    whole, and told it ended cleanly: what a cache stores."""
    tap = AssemblingTap()
    running = await sidecar(chain_policy([await fake("f0"), await fake("f1")]), stages=[tap_stage(tap)])
    headers, text = await stream_text(running, "f0:error-event=0")
    assert headers["x-sidecar-model"] == "m1"
    assert tap.opened == ["m1"] and tap.closed == [True]
    entry = tap.assembler.entry(
        ended_cleanly=True, model="m1", target="p1/up1", provider="p1", stored_at=0.0, cost_usd=None
    )
    assert entry is not None
    assert "tap this answer" in "".join(p.text for p in entry.pieces if isinstance(p, TextPiece))
    assert text.endswith("data: [DONE]\n\n")


async def test_a_tap_is_told_a_stream_that_failed_after_its_commit_did_not_end_cleanly(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A stream cut after content reached the caller closes the tap with clean False (not stored)."""
    tap = AssemblingTap()
    running = await sidecar(chain_policy([await fake("f0")]), stages=[tap_stage(tap)])
    await stream_text(running, "f0:cut=3")
    assert tap.opened == ["m0"] and tap.closed == [False]


class SkipFirst:
    """A hook as a budget will use one: the first target is over its limit."""

    async def before_target(self, exchange: Exchange, target: Target) -> str | None:
        return "budget" if target.name == "m0" else None

    async def after_answer(self, exchange: Exchange, target: Target, answer: StreamResponse | HeldStream) -> Verdict:
        return Verdict.ACCEPT


class RefuseOnce:
    """A hook as a quality gate will use one: the first answer is refused, with what to do next."""

    def __init__(self, then: Verdict, hold: bool) -> None:
        self.then = then
        self.hold = hold
        self.seen: list[tuple[str, str]] = []

    async def before_target(self, exchange: Exchange, target: Target) -> str | None:
        return None

    async def after_answer(self, exchange: Exchange, target: Target, answer: StreamResponse | HeldStream) -> Verdict:
        self.seen.append((target.name, type(answer).__name__))
        return self.then if len(self.seen) == 1 else Verdict.ACCEPT


def hook_stage(hook: Any) -> Any:
    async def stage(exchange: Exchange, call_next: Handler) -> StreamResponse:
        exchange.hooks = (*exchange.hooks, hook)
        if getattr(hook, "hold", False):  # its held streams counted in an account of their own
            exchange.hold_stream = StreamHold(HeldBytes(1 << 40))
        return await call_next(exchange)

    return stage


async def chat(running: RunningSidecar, stream: bool = False) -> tuple[int, dict[str, str], bytes]:
    body = {"model": "chain", "stream": stream, "messages": [{"role": "user", "content": "judge me"}]}
    async with aiohttp.ClientSession() as session, session.post(f"{running.url}/v1/chat/completions", json=body) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, await r.read()


async def fake_calls(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_fake/stats") as response:
        return int((await response.json())["requests"])


async def test_a_hook_skips_a_target_before_any_call_and_the_chain_moves_on(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """before_target's reason skips the first target without calling it; it is logged as its outcome."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(chain_policy(urls), stages=[hook_stage(SkipFirst())])
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-model"] == "m1"
    assert headers["x-sidecar-fallback-reason"] == "budget" and headers["x-sidecar-attempts"] == "1"
    assert await fake_calls(urls[0]) == 0
    access = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert access["attempt_log"] == ["m0:budget", "m1:ok"]


async def test_a_held_stream_refused_by_a_hook_is_never_sent_and_the_next_target_streams(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """With hold_stream, the first target's whole stream is held, refused (NEXT_TARGET), and the caller
    gets only the second target's stream."""
    urls = [await fake("f0", reply="first answer"), await fake("f1", reply="second answer")]
    hook = RefuseOnce(Verdict.NEXT_TARGET, hold=True)
    running = await sidecar(chain_policy(urls), stages=[hook_stage(hook)])
    status, headers, body = await chat(running, stream=True)
    assert status == 200 and headers["x-sidecar-model"] == "m1"
    assert hook.seen == [("m0", "HeldStream"), ("m1", "HeldStream")]
    assert b"second" in body and b"first" not in body and body.endswith(b"data: [DONE]\n\n")
    assert headers["x-sidecar-attempts"] == "2"


async def test_a_hook_asking_the_same_target_again_gets_a_second_call_to_it(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """SAME_TARGET re-asks the target that answered; its second answer is the caller's."""
    urls = [await fake("f0"), await fake("f1")]
    hook = RefuseOnce(Verdict.SAME_TARGET, hold=False)
    running = await sidecar(chain_policy(urls), stages=[hook_stage(hook)])
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-model"] == "m0"
    assert hook.seen == [("m0", "Response"), ("m0", "Response")]
    assert await fake_calls(urls[0]) == 2 and await fake_calls(urls[1]) == 0


async def test_a_held_stream_longer_than_the_first_byte_deadline_is_not_cut_by_it(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A held stream meets the first-content deadline with its first content, as a relayed one does:
    a stream that then takes longer than first_byte_s is held whole and sent."""
    url = await fake("f0", tokens_per_s=20, reply="one two three four five six seven eight")
    policy = chain_policy([url]).replace("target: [m0]}", "target: [m0], resilience: {timeouts: {first_byte_s: 0.2}}}")
    hook = RefuseOnce(Verdict.ACCEPT, hold=True)
    running = await sidecar(policy, stages=[hook_stage(hook)])
    status, headers, body = await chat(running, stream=True)
    assert status == 200 and headers["x-sidecar-model"] == "m0"
    assert hook.seen == [("m0", "HeldStream")]
    assert b"eight" in body and body.endswith(b"data: [DONE]\n\n")


async def test_a_translated_stream_reads_the_same_with_a_tap_listening_and_without(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An Anthropic upstream's stream to an OpenAI caller: with no tap the relay turns text deltas into
    the caller's bytes directly, with a tap it goes through the common deltas (which the tap is shown);
    the caller gets the same events either way."""
    url = await fake("f0", reply='one two, three "four" fünf 🌍')
    policy = "version: 1\nproviders:\n" + provider_block("p0", url, "anthropic")
    policy += "models:\n  m0: {provider: p0, model: up0}\n"
    policy += "routes:\n  - {name: chain, match: {model: chain}, target: [m0]}\n"
    tap = AssemblingTap()
    plain, tapped = await sidecar(policy), await sidecar(policy, stages=[tap_stage(tap)])
    answers = [(await stream_text(running))[1] for running in (plain, tapped)]
    same = [re.sub(r'"(id|created)":("[^"]*"|\d+)', "", answer) for answer in answers]
    assert same[0] == same[1]
    assert same[0].count('"content":') > 3 and same[0].endswith("data: [DONE]\n\n")
    entry = tap.assembler.entry(
        ended_cleanly=True, model="m0", target="p0/up0", provider="p0", stored_at=0.0, cost_usd=None
    )
    assert entry is not None
    assert "".join(p.text for p in entry.pieces if isinstance(p, TextPiece)) == 'one two, three "four" fünf 🌍'
