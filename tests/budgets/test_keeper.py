"""LedgerKeeper: the ledger across policy reloads, and the budget metrics it refreshes."""

from __future__ import annotations

from sidecar.budgets import BudgetRequest
from sidecar.budgets.keeper import LedgerKeeper
from sidecar.telemetry import Telemetry

from .conftest import RedisServer, budgets_of

RPM = {"name": "rpm", "measure": "requests", "amount": 10, "window": "minute"}
REQUEST = BudgetRequest(input_tokens=10, max_output_tokens=10)


async def test_a_reload_on_the_same_store_keeps_the_ledger_and_its_counts() -> None:
    """sync() with a policy on the same store updates the ledger in place: what was counted stays."""
    keeper = LedgerKeeper(budgets_of({"limits": [RPM]}), {})
    ledger = keeper.ledger
    assert ledger is not None
    admission = await ledger.admit(REQUEST, [ledger.budgets.target("big")])
    await admission.settle(None)
    keeper.sync(budgets_of({"limits": [{**RPM, "amount": 20}]}))
    assert keeper.ledger is ledger
    assert [row["used"] for row in await ledger.status()] == [1.0]
    await keeper.close()


async def test_a_reload_onto_another_store_opens_a_new_ledger(redis_server: RedisServer) -> None:
    """sync() with another store replaces the ledger (the old one is closed); without limits, none."""
    keeper = LedgerKeeper(budgets_of({"limits": [RPM]}), {})
    local = keeper.ledger
    keeper.sync(budgets_of({"store": redis_server.url, "limits": [RPM]}))
    assert keeper.ledger is not local and keeper.shared
    keeper.sync(budgets_of({}))
    assert keeper.ledger is None and not keeper.shared
    await keeper.close()


async def test_refresh_sets_the_gauges_and_adds_each_event_once() -> None:
    """refresh() sets used/remaining per limit and scope, and adds only new ledger events to the counters."""
    telemetry = Telemetry.for_tests()
    keeper = LedgerKeeper(budgets_of({"limits": [RPM]}), {})
    ledger = keeper.ledger
    assert ledger is not None
    await (await ledger.admit(REQUEST, [ledger.budgets.target("big")])).settle(None)
    ledger.stats.store_errors = 2
    keeper.refresh(telemetry.instruments)
    keeper.refresh(telemetry.instruments)
    text = telemetry.metrics_text().decode()
    assert 'llm_sidecar_budget_used{limit="rpm",measure="requests",scope="*",window="minute"} 1.0' in text
    assert 'llm_sidecar_budget_remaining{limit="rpm",measure="requests",scope="*",window="minute"} 9.0' in text
    assert 'llm_sidecar_budget_events_total{event="store_errors"} 2.0' in text
    await keeper.close()
