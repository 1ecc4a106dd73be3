"""What one seeded client of ``sdk_soak.py`` sends (``plan_call``): a ``Plan`` per call, the faults it may
carry in its prompt, the malformed bodies sent by raw HTTP, and the prompt text (``prompt``).

Besides the fake providers' routes, the ``usage`` and ``writes`` routes' one target is ``f4``
(bench/sdk_soak_scripted.py: Gemini's usage on some fragments only, Anthropic's cache writes, thinking and
cache-read tokens, new finish reasons), whose faults are f4's own; a call of a cached route (``cached``,
``writes``) goes to either of the two sidecars sharing the cache's Redis (``pod``) and carries billing
fields (``billing``: left out of the cache key, docs/caching.md); some calls ask for thinking (``think``)
or carry a field the caller's SDK does not know inside a message (``unknown_field``: dropped and listed
under the soak policy's ``unsupported_params: drop``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

ROUTES = ("chain", "hedged", "cached", "capped", "spare", "usage", "writes", "vote", "pool")
CALM = frozenset({"pool"})  # routes whose calls carry no fault and never leave: their provider never fails
FAULTS = (
    "f1:status=429;hint=retry-after;after=0.3",
    "f1:status=500",
    "f1:overloaded",
    "f2:overloaded",
    "f1:status=529",
    "f1:reset",
    "f1:reset-body",
    "f1:stall=2",
    "f1:cut=2",
    "f1:error-event=1",
    "f1:stall-mid=1;for=0.3",
    "f1:malformed",
    "f1:empty",
    "f1:status=503,f2:status=503",
    "f1:reset,f2:overloaded",
    "f1:quota",
    "f2:context",
    "f1:context",
)
CACHED = frozenset({"cached", "writes"})  # routes with the response cache: shared prompts, either pod
SCRIPTED = frozenset({"usage", "writes"})  # routes to f4 (bench/sdk_soak_scripted.py): Gemini's, Anthropic's
USAGE_FAULTS = ("f4:context", "f4:cut=1", "f4:cut=2", "f4:stall-mid=1;for=0.3")  # the scripted routes': f4's own
UNKNOWN_FIELD = "soak_note"  # put inside a message: no SDK's, no provider's
CONTEXT = "context"  # a context overflow: an OpenAI app gets ``context_length_exceeded`` from any provider
LEAVE_STALL = "stall=4"  # every target stalls: the client leaves before the head
LEAVE_MID = "stall-mid=1;for=4"  # every target pauses after its first event: the client leaves mid-stream
# The first four the sidecar refuses itself (a 4xx); the last two are JSON objects it cannot translate for
# some targets of the chain but passes to the same-dialect one, whose provider judges them (a 400, or its
# outage's 503 when it is down: any status, in the dialect's shape).
MALFORMED = (
    ("/v1/chat/completions", b'{"model": "chain", "messages": ['),
    ("/v1/chat/completions", b'{"model": 5, "messages": "x"}'),
    ("/v1/messages", b"not json"),
    ("/v1beta/models/chain:generateContent", b"[]"),
    ("/v1/messages", b'{"model": "chain", "max_tokens": "many", "messages": []}'),
    ("/v1beta/models/chain:streamGenerateContent?alt=sse", b'{"contents": 7}'),
)
REFUSED_BY_THE_SIDECAR = frozenset(body for _, body in MALFORMED[:4])


@dataclass(frozen=True)
class Plan:
    """One call: who sends it (``dialect``: openai, anthropic, gemini; ``raw`` for a malformed body)."""

    soak_id: str
    dialect: str
    model: str
    stream: bool
    tools: bool
    fault: str | None  # a fault marker in the prompt
    leave: str | None  # None, "head" (before the head) or "mid" (after the first event)
    raw_body: bytes = b""
    raw_path: str = ""
    shared: int | None = None  # a prompt other calls send too (the cached route: hits, and fills by leavers)
    pod: int = 0  # the sidecar it is sent to (1: the second, sharing the cache's Redis)
    billing: bool = False  # billing fields the cache key leaves out (their values this call's own)
    think: bool = False  # thinking asked (OpenAI ``reasoning_effort``, Anthropic ``thinking``, Gemini's)
    unknown_field: bool = False  # a field inside the message that the dialect does not know


def plan_call(rng: random.Random, soak_id: str, round_number: int) -> Plan:
    """A random call of the mix (the cached route's shared prompts are the round's own: ``shared_prompts``)."""
    roll = rng.random()
    dialect = rng.choice(("openai", "openai", "anthropic", "gemini"))
    if roll < 0.05:
        path, body = rng.choice(MALFORMED)
        return Plan(soak_id, "raw", "chain", False, False, None, None, body, path)
    model = rng.choice((*ROUTES, *CALM))  # the calm routes twice: their calls fill f3's small pool
    if roll < 0.08:
        model = f"unknown-{rng.randrange(1000)}"
    shared = rng.choice(shared_prompts(round_number)) if model in CACHED and rng.random() < 0.6 else None
    cached = {"pod": rng.randrange(2), "billing": rng.random() < 0.5} if model in CACHED else {}
    if model in CALM:
        return Plan(soak_id, dialect, model, rng.random() < 0.45, rng.random() < 0.2, None, None)
    if roll > 0.93:
        return Plan(soak_id, dialect, model, True, False, LEAVE_MID, "mid", shared=shared, **cached)
    if roll > 0.87:
        return Plan(soak_id, dialect, model, rng.random() < 0.5, False, LEAVE_STALL, "head", shared=shared, **cached)
    fault = rng.choice(USAGE_FAULTS if model in SCRIPTED else FAULTS) if rng.random() < 0.35 else None
    tools = rng.random() < 0.2
    alone = shared is None  # a shared prompt's calls differ by thinking alone: a hit's usage is its live answers'
    extras = {
        "think": rng.random() < 0.12,
        "unknown_field": alone and dialect != "gemini" and rng.random() < 0.06,
    }
    return Plan(soak_id, dialect, model, rng.random() < 0.45, tools, fault, None, shared=shared, **cached, **extras)


def shared_prompts(round_number: int) -> range:
    """The numbers of the shared prompts of a round (the cache holds none of them before it)."""
    return range(10 * round_number, 10 * round_number + 4)


def prompt(plan: Plan) -> str:
    """The user text: names the call (the fakes' request logs say which call they got) or a shared one;
    the fake model echoes it, so it is also the answer's text."""
    text = f"soak {plan.soak_id if plan.shared is None else f'shared-{plan.shared}'}: say something"
    text += " fake:tool" if plan.tools else ""  # the fake model calls the tool offered
    return text + (f" [fault:{plan.fault}]" if plan.fault else "")
