"""The store alerts against a real Prometheus scraping a real sidecar whose real Redis goes away.

One scenario for the module (``scenario``): a fake provider, a redis-server, and the sidecar
(``llm-sidecar run``) on a policy whose route ``cached`` caches every answer in that Redis and whose
budget limit counts there too; Prometheus scrapes the sidecar's health port with
deploy/prometheus/scrape-config.yaml's job and evaluates a copy of the rules 60 times faster, as in
tests/deploy/test_prometheus_live.py. The OpenAI SDK calls route ``cached`` throughout. The scenario:

1. healthy traffic (Redis answers);
2. redis-server killed, until LLMSidecarBudgetStoreErrors and LLMSidecarCacheStoreFailing fire (or 30 s);
3. redis-server started again on the same port, until both resolve (or 30 s).

The dashboard's panels on those series (never made by tests/deploy/test_prometheus_live.py's scenario)
are queried here. So the alerts' expressions are held to the series the sidecar really exports when a store fails
(``llm_sidecar_budget_events_total{event="store_errors"}``, ``llm_sidecar_cache_store_errors_total{kind}``),
not only to synthetic ones (tests/deploy/prometheus/alerts_test.yaml).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest

from ..live_stack import Processes
from ..redis_server import RedisServer
from ..sdk_clients import sdk_client
from .dashboard import PanelQuery, load, queries
from .scraped import APP, NAMESPACE, STORE_FAILURE_SERIES, Scenario, dashboard_answer_problems, scraped_sidecar

pytestmark = pytest.mark.timeout(150)

BUDGET_STORE, CACHE_STORE = "LLMSidecarBudgetStoreErrors", "LLMSidecarCacheStoreFailing"

POLICY = """\
version: 1
defaults:
  resilience: {max_attempts_per_target: 1, deadline_s: 10, timeouts: {connect_s: 30}}
providers:
  primary: {kind: fake, speaks: openai, base_url: "PRIMARY"}
models:
  fast: {provider: primary, model: fast-1, price: {input_per_mtok: 1.0, output_per_mtok: 2.0}}
routes:
  - name: cached
    match: {model: cached}
    target: fast
    cache: {enabled: true, cacheable: always}
default: {target: fast}
cache:
  redis: {url: "REDIS", timeout_s: 0.2, connect_timeout_s: 0.2}
  breaker: {open_s: 0.5, open_max_s: 1}
budgets:
  store: {url: "REDIS", timeout_ms: 200, connect_timeout_ms: 200, breaker: {open_s: 0.2, open_max_s: 0.5}}
  limits:
    - {name: app-rpm, measure: requests, amount: 100000, window: minute, action: deny}
"""
# The breakers reopen within a second (the defaults, up to 30 and 60 s, are for production): a store
# that stays down keeps failing a few calls a second while traffic flows, as it does at production
# rates over the rules' real windows.


class Traffic(threading.Thread):
    """The app: the same and a new prompt in turn (a cache hit and a miss), until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.client = sdk_client(openai.OpenAI, base_url=f"{url}/v1", api_key="app-key")
        self.stopping = threading.Event()

    def run(self) -> None:
        sent = 0
        while not self.stopping.is_set():
            sent += 1
            text = "the same question" if sent % 2 else f"question {sent}"
            with contextlib.suppress(openai.APIError):
                self.client.chat.completions.create(model="cached", messages=[{"role": "user", "content": text}])
            self.stopping.wait(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)
        self.client.close()


class StoreScenario(Scenario):
    killed_at: float = 0.0
    restarted_at: float = 0.0


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreScenario]:
    work = tmp_path_factory.mktemp("stores")
    processes = Processes(work)
    redis = RedisServer(work)
    traffic: Traffic | None = None
    try:
        redis.launch()
        primary = processes.fake_provider("primary")
        policy = work / "policy.yaml"
        policy.write_text(POLICY.replace("PRIMARY", primary).replace("REDIS", redis.url))
        sidecar, access_log, prometheus = scraped_sidecar(processes, policy, {"SIDECAR_APP": APP})
        record = StoreScenario(prometheus, access_log)
        traffic = Traffic(sidecar)
        traffic.start()
        record.wait(20, lambda: bool(record.query("llm_sidecar_build_info")["data"]["result"]))
        record.wait(3)
        redis.kill()
        record.killed_at = time.monotonic()
        record.wait(30, lambda: all(record.state_at_end(alert) == "firing" for alert in (BUDGET_STORE, CACHE_STORE)))
        redis.start()
        record.restarted_at = time.monotonic()
        record.wait(30, lambda: all(record.state_at_end(alert) == "inactive" for alert in (BUDGET_STORE, CACHE_STORE)))
        yield record
    finally:
        if traffic is not None:
            traffic.stop()
        processes.close()
        redis.kill()


def firing_labels(scenario: Scenario, alert: str) -> list[dict[str, Any]]:
    return [a["labels"] for a in scenario.firing.get(alert, [])]


def test_stores_are_quiet_while_redis_answers(scenario: StoreScenario) -> None:
    """Neither store alert is pending or firing before Redis goes away."""
    for alert in (BUDGET_STORE, CACHE_STORE):
        assert all(state == "inactive" for t, state in scenario.states[alert] if t < scenario.killed_at), alert


def test_budget_store_alert_fires_when_redis_goes_away(scenario: StoreScenario) -> None:
    """With the budget store's Redis killed, LLMSidecarBudgetStoreErrors fires for the app within its
    window and `for` (5 s + 5 s in the fast copy) plus a few seconds."""
    fired = scenario.first(BUDGET_STORE, "firing", scenario.killed_at)
    assert fired is not None, scenario.states.get(BUDGET_STORE)
    assert fired - scenario.killed_at < 5 + 5 + 8
    assert [(a["namespace"], a["app"]) for a in firing_labels(scenario, BUDGET_STORE)] == [(NAMESPACE, APP)]


def test_cache_store_alert_fires_when_redis_goes_away(scenario: StoreScenario) -> None:
    """With the cache's Redis killed, the cache's failed and skipped operations pass 0.1 a second:
    LLMSidecarCacheStoreFailing fires for the app within its window and `for` (5 s + 10 s) plus a few
    seconds."""
    fired = scenario.first(CACHE_STORE, "firing", scenario.killed_at)
    assert fired is not None, scenario.states.get(CACHE_STORE)
    assert fired - scenario.killed_at < 5 + 10 + 8
    assert [(a["namespace"], a["app"]) for a in firing_labels(scenario, CACHE_STORE)] == [(NAMESPACE, APP)]


@pytest.mark.parametrize("alert", [BUDGET_STORE, CACHE_STORE])
def test_store_alerts_resolve_once_redis_is_back(scenario: StoreScenario, alert: str) -> None:
    """Redis started again: the breakers close on their next probe, the errors stop and the alert goes
    inactive within its window plus a few seconds."""
    resolved = scenario.first(alert, "inactive", scenario.restarted_at)
    assert resolved is not None, scenario.states.get(alert)
    assert resolved - scenario.restarted_at < 5 + 8


def test_the_runbooks_log_lines_say_what_failed(scenario: StoreScenario) -> None:
    """What the two runbooks send the on-call to: a budget_store_failing and a cache_store_failing warning
    in the sidecar's log while Redis is down, each with the Redis client's error, a detail and the
    count of failures since the last line."""
    lines = [orjson.loads(line) for line in scenario.access_log.read_bytes().splitlines() if line.startswith(b"{")]
    for event in ("budget_store_failing", "cache_store_failing"):
        found = [line for line in lines if line.get("event") == event]
        assert found, event
        assert found[0]["level"] == "warning" and found[0]["error"] and found[0]["detail"], found[0]
        assert found[0]["failures"] >= 1, found[0]


@pytest.mark.parametrize(
    "query", [q for q in queries(load()) if any(series in q.expr for series in STORE_FAILURE_SERIES)], ids=str
)
def test_the_store_failure_panels_show_the_failure(scenario: StoreScenario, query: PanelQuery) -> None:
    """*Redis cache errors by kind* and *Budget store events* return the real series of the stores'
    failures (with their kind and event labels) from Prometheus once Redis went away."""
    assert dashboard_answer_problems(scenario, query) == []
