"""The traffic of ``soak_mix.py``: the mix of requests an app sends (``build``: the three dialects, streamed
and not, provider faults by prompt marker from ``FAULTS``, unknown models, malformed bodies, new budget
keys, traceparents), sent by ``worker`` clients that hang up mid-stream or give up after 0.3 s, their
outcomes counted in a ``Tally``.
"""

from __future__ import annotations

import collections
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

FAULTS = [
    "f1:status=429;hint=retry-after;after=0.3",
    "f1:status=500",
    "f1:overloaded",
    "f1:status=529",
    "f1:reset",
    "f1:reset-body",
    "f1:stall=1.5",
    "f1:cut=2",
    "f1:error-event=1",
    "f1:stall-mid=1;for=0.3",
    "f1:malformed",
    "f1:status=503,f2:status=503",
    "f1:reset,f2:overloaded",
]


@dataclass
class Tally:
    sent: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)


def prompt(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return f"hello python question {rng.randrange(50)}"
    return f"hello unique {rng.getrandbits(64):x} " + "lorem " * rng.randrange(1, 200)


def build(rng: random.Random) -> tuple[str, str, dict[str, str], bytes, bool, bool]:
    """One request of the mix: (kind, path, headers, body, stream, hang up mid-stream)."""
    roll = rng.random()
    if roll < 0.03:
        bodies = [b'{"model": "chat", "messages": [', b"not json", b'{"model": 5, "messages": "x"}', b"[]"]
        return (
            "malformed",
            "/v1/chat/completions",
            {"content-type": "application/json"},
            rng.choice(bodies),
            False,
            False,
        )
    model = rng.choice(["routed", "cached", "cached", "vote", "capped", "chat", "chat-x", "chat"])
    if roll < 0.06:
        model = rng.choice(["nowhere", f"unknown-{rng.getrandbits(32):x}", "gpt-3.5-turbo"])
    text = prompt(rng)
    if rng.random() < 0.3:
        text += f" [fault:{rng.choice(FAULTS)}]"
    stream = rng.random() < 0.4
    hang = stream and rng.random() < 0.25
    dialect = rng.choice(["openai", "openai", "anthropic", "gemini"])
    headers = {"content-type": "application/json"}
    if rng.random() < 0.5:
        headers["x-user"] = f"user-{rng.getrandbits(48):x}"  # a new budget counter each time
    if rng.random() < 0.3:
        headers["traceparent"] = f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-0{rng.randrange(2)}"
    if dialect == "openai":
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        path = "/v1/chat/completions"
    elif dialect == "anthropic":
        body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}], "stream": stream}
        headers["anthropic-version"] = "2023-06-01"
        path = "/v1/messages"
    else:
        body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
        path = f"/v1beta/models/{model}:" + ("streamGenerateContent?alt=sse" if stream else "generateContent")
    return dialect, path, headers, json.dumps(body).encode(), stream, hang


async def one(session: aiohttp.ClientSession, url: str, rng: random.Random, tally: Tally) -> None:
    kind, path, headers, body, _, hang = build(rng)
    tally.sent += 1
    impatient = rng.random() < 0.05  # gives up after 0.3 s: mid-wait for the upstream, or mid-answer
    timeout = aiohttp.ClientTimeout(total=0.3 if impatient else 30)
    try:
        async with session.post(url + path, data=body, headers=headers, timeout=timeout) as r:
            if hang and r.status == 200:
                await r.content.read(64)
                r.close()  # the app hangs up mid-stream
                tally.outcomes[f"{kind} hung-up"] += 1
                return
            await r.read()
            tally.outcomes[f"{kind} {r.status}"] += 1
    except (TimeoutError, aiohttp.ClientError) as exc:
        tally.outcomes[f"{kind} {'gave-up' if impatient else 'client-' + type(exc).__name__}"] += 1


async def worker(url: str, seed: int, until: float, tally: Tally) -> None:
    rng = random.Random(seed)
    connector = aiohttp.TCPConnector(limit=4)
    async with aiohttp.ClientSession(connector=connector) as session:
        while time.monotonic() < until:
            await one(session, url, rng, tally)
