"""The budget tests that walk more than one call (tests/server/test_budget_fallback.py,
test_budget_ensemble.py, test_budget_retry.py): the store fixture (the pod's own counters, or a real
redis-server's), an OpenAI SDK client, the last access line, the limit's use polled until it is what is
expected, and the chat, its two-provider policy, a tokens limit and what the chat reserves."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import openai
import orjson
import pytest

from sidecar.explain import explain_report
from sidecar.policy import load_policy_bytes
from sidecar.request_facts import describe_request

from ..conftest import RunningSidecar, provider_block
from ..sdk_clients import sdk_client
from .chain import CONNECT

CHAT: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 20}


@pytest.fixture(params=["local", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    """The budgets' store lines: the pod's own counters, or a real redis-server shared by pods."""
    if request.param == "local":
        return ""
    server = request.getfixturevalue("redis_server")
    return f"  store: {{url: '{server.url}', timeout_ms: 10000, connect_timeout_ms: 10000}}\n"  # no fallback under load


def client(running: RunningSidecar) -> openai.AsyncOpenAI:
    return sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="app-key")


def access_line(running: RunningSidecar) -> dict[str, Any]:
    return [line for line in running.log_lines() if line.get("event") == "access"][-1]


async def use(running: RunningSidecar, expected: float | None = None, within_s: float = 10) -> float:
    """The limit's use (settled + held); with ``expected``, polled until it is that for up to ``within_s``
    (with Redis a settlement is carried by the next admission, or sent alone 20 ms later: later on a
    loaded machine), then the last one read."""
    ledger = running.state.budgets.ledger
    assert ledger is not None
    deadline = time.monotonic() + within_s
    while True:
        (row,) = await ledger.status()
        used = float(row["used"])  # type: ignore[arg-type]
        if expected is None or used == pytest.approx(expected) or time.monotonic() > deadline:
            return used
        await asyncio.sleep(0.02)


PREMIUM = "{input_per_mtok: 1000, output_per_mtok: 1000}"  # a token: $0.001
CHEAP = "{input_per_mtok: 1, output_per_mtok: 1}"  # a token: $0.000001


def two_provider_policy(first: str, second: str, route: str, limit: str, store: str = "") -> str:
    """One ``route`` over ``small`` (cheap) on provider one (at ``first``), ``alt`` (cheap) and ``big``
    (premium) on provider two (at ``second``), with one budget ``limit`` in ``store``."""
    return (
        "version: 1\ndefaults:\n  resilience: {"
        + CONNECT
        + "}\nproviders:\n"
        + provider_block("one", first)
        + provider_block("two", second)
        + "models:\n"
        + f"  small: {{provider: one, model: small-1, price: {CHEAP}}}\n"
        + f"  big: {{provider: two, model: big-1, price: {PREMIUM}}}\n"
        + f"  alt: {{provider: two, model: alt-1, price: {CHEAP}}}\n"
        + f"routes:\n  - {route}\n"
        + f"budgets:\n{store}  limits:\n    - {limit}\n"
    )


def policy(first: str, second: str, chain: str, limit: str, store: str = "", route: str | None = None) -> str:
    return two_provider_policy(first, second, route or f"{{name: chat, target: {chain}}}", limit, store)


def tokens(amount: int, name: str = "t") -> str:
    return f"{{name: {name}, measure: tokens, amount: {amount}, window: month}}"


def reservation(**options: Any) -> int:
    """The tokens the chat (with ``options``) reserves on a target (``llm-sidecar explain``: its prompt
    estimate + 20)."""
    shown = policy("http://127.0.0.1:1", "http://127.0.0.1:2", "[small, alt]", tokens(1_000_000_000))
    body = orjson.loads(orjson.dumps({**CHAT, **options}))
    request = describe_request("/v1/chat/completions", {}, {}, body, app="")
    (row,) = explain_report(load_policy_bytes(shown.encode(), "p.yaml"), request)["budgets"]
    return int(row["reserves"])
