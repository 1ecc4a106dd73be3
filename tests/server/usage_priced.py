"""The one-model policy, its prices and the readings the usage-cost tests share (tests/server/test_usage_costs.py,
test_usage_prices.py): ``policy`` (model ``m`` at ``PRICE`` by default, a dollar and a token budget), ``charged``
(what each budget counted, from ``/status``), ``access`` (the request's access line)."""

from __future__ import annotations

from typing import Any

import aiohttp

from ..conftest import RunningSidecar
from .anthropic_usage import CACHED, IN, OUT, WRITE

PRICE = (
    f"{{input_per_mtok: {IN}, output_per_mtok: {OUT}, cached_input_per_mtok: {CACHED}, cache_write_per_mtok: {WRITE}}}"
)
LIMITS = (
    "budgets:\n  limits:\n"
    "    - {name: usd-month, measure: usd, amount: 1000, window: month, scope: {by: global}}\n"
    "    - {name: tokens-month, measure: tokens, amount: 10000000, window: month, scope: {by: global}}\n"
)


def policy(provider: str, price: str = PRICE) -> str:
    return (
        f"version: 1\nproviders:\n{provider}"
        f"models:\n  m: {{provider: p, model: m-1, price: {price}}}\n"
        "routes:\n  - {name: r, match: {model: m}, target: [m]}\n" + LIMITS
    )


async def charged(running: RunningSidecar) -> dict[str, float]:
    """What each budget counted: {limit: used}."""
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/status") as answer:
        rows = (await answer.json())["budgets"]
    return {row["limit"]: row["used"] for row in rows}


def access(running: RunningSidecar) -> dict[str, Any]:
    (line,) = [line for line in running.log_lines() if line.get("event") == "access"]
    return line
