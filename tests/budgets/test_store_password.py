"""The budgets' shared store when its Redis password cannot be read (docs/budgets.md, "When Redis
fails"): a real sidecar, a real redis-server that requires a password, the password file written late."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import FakeFactory, SidecarFactory

from .test_shared_e2e import chat_once, store_policy


async def test_a_password_file_written_late_is_used_without_a_reload(
    fake: FakeFactory, sidecar: SidecarFactory, redis_factory: Any, tmp_path: Path
) -> None:
    """The budget store's password file is missing at start (a Secret key not written yet): requests are
    counted in the pod (``store: fallback``), each failed call is a ``store_errors`` event in /metrics
    (the input of LLMSidecarBudgetStoreErrors) and the warning names the file, never a secret; once the
    file is written, the next connection reads it (no reload, no restart): the use counted meanwhile
    reaches Redis and requests are counted there again."""
    redis = redis_factory("--requirepass", "budget-pw")
    secret = tmp_path / "password"
    policy = store_policy(await fake("up"), redis.url, "open").replace(
        "timeout_ms: 3000,", f"timeout_ms: 3000, password: {{file: '{secret}'}},"
    )
    running = await sidecar(policy)
    status, headers, _ = await chat_once(running.url)
    assert status == 200 and headers["x-sidecar-budget-store"] == "fallback"
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as response:
        metrics = await response.text()
    errors = [line for line in metrics.splitlines() if 'event="store_errors"' in line]
    assert errors and float(errors[0].rsplit(" ", 1)[1]) >= 1, metrics
    logs = running.logs.getvalue().decode()
    assert "budget_store_failing" in logs and str(secret) in logs
    secret.write_text("budget-pw\n")
    ledger = running.state.budgets.ledger
    assert ledger is not None
    for _ in range(300):  # the breaker lets a call through again (open_s, doubled per failed probe)
        if not ledger.stats.pending:
            break
        await asyncio.sleep(0.1)
    with redis.client(password="budget-pw") as client:
        (key,) = [key for key in client.keys("llm-sidecar:{budgets}:c:dollar:*") if not key.endswith(b":r")]
        assert ledger.stats.pending == 0 and int(client.hget(key, "u") or 0) > 0
    status, headers, _ = await chat_once(running.url)
    assert status == 200 and "x-sidecar-budget-store" not in headers
    assert "budget-pw" not in running.logs.getvalue().decode()
