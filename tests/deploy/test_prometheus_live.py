"""The dashboard and the alerts against a real Prometheus scraping a real sidecar.

One scenario for the module (``scenario``): two fake providers (``primary`` speaks OpenAI, ``backup``
Anthropic), the sidecar (``llm-sidecar run``) on a policy whose ``chat`` route falls back from primary
to backup, whose ``solo`` route has primary only, an ensemble (``vote``) and a gated, shadowed route
(``gated``), its access log sampled at half the plain lines, and Prometheus (the Debian package)
scraping the sidecar's /metrics on its health port every second with deploy/prometheus/scrape-config.yaml's
job (which attaches namespace, app and pod from the pod's Kubernetes labels) and evaluating a copy of
deploy/prometheus's rules 60 times faster (every duration divided by 60: a ``for: 3m`` is 3 s) every
second. Traffic from the official openai and anthropic SDKs runs
throughout. The scenario:

1. healthy traffic;
2. a policy file the sidecar applies, one it rejects, and the rollback to the one it serves;
3. primary made to answer 503 (the fake provider's ``fault``), until the breaker, fallback and route
   error alerts fire (or 20 s pass);
4. the fault removed, until they resolve (or 20 s pass);
5. raw connections opened to the proxy port and held, past its cap (``SIDECAR_MAX_CONNECTIONS``,
   ``MAX_CONNECTIONS``: well above what the traffic keeps open), until the connections alert fires (or
   10 s pass), then closed, until it resolves (or 15 s pass).

The budget alert fires throughout (limit chat-rpm is used up). The store alerts (budget store, cache
store) fire against a real Redis stopped under a sidecar: tests/deploy/test_prometheus_stores_live.py.

It records every alert's state over time; the tests read that record, then query Prometheus for every
dashboard query while the traffic still runs.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from sidecar.policy.spec import DefaultsSpec, PolicySpec, RouteSpec

from ..live_stack import Processes, http
from ..sdk_clients import sdk_client
from .dashboard import PanelQuery, load, queries, substitute
from .scraped import (
    APP,
    GRAFANA_VALUES,
    NAMESPACE,
    POD,
    STORE_FAILURE_SERIES,
    Scenario,
    dashboard_answer_problems,
    scraped_sidecar,
)

# The scenario runs in the first test's setup: about 30 s, up to a minute on a busy machine.
pytestmark = pytest.mark.timeout(150)

POLICY = """\
version: 1
defaults:
  resilience:
    {max_attempts_per_target: 1, deadline_s: 10, backoff: {base_s: 0.01, cap_s: 0.02}, timeouts: {connect_s: 30}}
  breaker: {window: count, window_size: 10, minimum_calls: 4, failure_rate: 0.5, open_s: 0.5, open_max_s: 1}
providers:
  primary: {dialect: fake, speaks: openai, base_url: "PRIMARY"}
  backup: {dialect: fake, speaks: anthropic, base_url: "BACKUP"}
models:
  fast: {provider: primary, model: fast-1, price: {input_per_mtok: 1.0, output_per_mtok: 2.0}}
  steady: {provider: backup, model: steady-1, max_output_tokens: 256,
           price: {input_per_mtok: 3.0, output_per_mtok: 6.0}}
routes:
  - name: chat
    match: {model: "chat-*"}
    target: [fast, steady]
  - name: solo
    match: {model: solo}
    target: fast
  - name: retired
    match: {model: "old-*"}
    deny: {message: "retired", status: 403}
  - name: vote
    match: {model: vote}
    ensemble: {members: [fast, steady], early_quorum: false}
  - name: gated
    match: {model: gated}
    target: fast
    resilience: {max_attempts_per_target: 2}
    gates: {regex: {pattern: "^Your previous answer"}, on_fail: reask}
    shadow: {candidates: [steady], sample: 1.0}
  - name: canary
    match: {model: steady}
    split: {arms: [{target: fast, weight: 1}, {target: steady, weight: 1}]}
  - name: cached
    match: {model: cached}
    target: fast
    cache: {enabled: true, cacheable: always}
budgets:
  limits:
    - {name: chat-rpm, measure: requests, amount: 1, window: minute, scope: {by: route, values: [chat]}, action: warn}
routing:
  classes: [{name: greeting, rules: [{keywords: [hello]}]}]
access_log: {sample: 0.5}
"""
# vote: an ensemble of both fakes. gated: the fake echoes the prompt, which fails the gate's pattern;
# the re-ask's echo (the re-ask prompt) passes it, and steady shadows every request.
# The cache row needs a route that caches; until the policy has a cache, its queries are only checked
# for validity. Once it has one, the live policy above must enable it (the cache row test says so).
CACHE_IN_POLICY = any("cache" in name for spec in (PolicySpec, DefaultsSpec, RouteSpec) for name in spec.model_fields)


class Traffic(threading.Thread):
    """The app: requests through the official SDKs in a loop until stopped (``only``: to those models).
    Errors are what it expects while a provider fails; they are counted, never raised."""

    def __init__(self, url: str, only: frozenset[str] | None = None) -> None:
        super().__init__(daemon=True)
        self.openai = sdk_client(openai.OpenAI, base_url=f"{url}/v1", api_key="app-key")
        self.anthropic = sdk_client(anthropic.Anthropic, base_url=url, api_key="app-key")
        self.only = only
        self.stopping = threading.Event()
        self.sent = 0
        self.failed = 0

    def run(self) -> None:
        messages: Any = [{"role": "user", "content": "hello there friend of mine"}]
        calls = {
            "chat-a": lambda: self.openai.chat.completions.create(model="chat-a", messages=messages),
            "chat-b": lambda: list(
                self.openai.chat.completions.create(
                    model="chat-b", messages=messages, stream=True, stream_options={"include_usage": True}
                )
            ),
            "solo": lambda: list(self.openai.chat.completions.create(model="solo", messages=messages, stream=True)),
            "chat-c": lambda: self.anthropic.messages.create(model="chat-c", max_tokens=64, messages=messages),
            "vote": lambda: self.openai.chat.completions.create(model="vote", messages=messages),
            "gated": lambda: self.openai.chat.completions.create(model="gated", messages=messages),
            "old-1": lambda: self.openai.chat.completions.create(model="old-1", messages=messages),
            "steady": lambda: self.openai.chat.completions.create(model="steady", messages=messages),
            "unknown": lambda: self.openai.chat.completions.create(model="unknown", messages=messages),
            "cached": lambda: self.openai.chat.completions.create(model="cached", messages=messages),
        }
        chosen = [call for model, call in calls.items() if self.only is None or model in self.only]
        while not self.stopping.is_set():
            for call in chosen:
                self.sent += 1
                try:
                    call()
                except (openai.APIError, anthropic.APIError):
                    self.failed += 1
            self.stopping.wait(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)
        self.openai.close()
        self.anthropic.close()


def apply(policy: Path, text: str) -> None:
    """Replace the policy file in one rename, as the kubelet swaps a ConfigMap (never half written)."""
    staged = policy.with_suffix(".new")
    staged.write_text(text)
    os.replace(staged, policy)


BREAKER, FALLBACK, RELOAD = "LLMSidecarBreakerOpen", "LLMSidecarFallbackRatioHigh", "LLMSidecarPolicyReloadRejected"
ROUTE_ERRORS, BUDGET = "LLMSidecarRouteErrorRatioHigh", "LLMSidecarBudgetNearLimit"
REFUSED = "LLMSidecarConnectionsRefused"
# The proxy port's cap: the traffic's SDK clients keep at most a few connections open (three loops of
# one call at a time), so only the held connections of step 5 reach it.
MAX_CONNECTIONS = 16


@contextmanager
def held_connections(url: str, count: int) -> Iterator[None]:
    """``count`` TCP connections opened to the sidecar at ``url`` and left idle (no request), closed on
    exit: those past the cap are accepted and closed at once by the sidecar, each one counted refused."""
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    held = [socket.create_connection((host, int(port)), timeout=5) for _ in range(count)]
    try:
        yield
    finally:
        for connection in held:
            connection.close()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    work = tmp_path_factory.mktemp("live")
    processes = Processes(work)
    traffic: list[Traffic] = []
    try:
        primary = processes.fake_provider("primary", "--ttft-ms", "20")
        backup = processes.fake_provider("backup", "--ttft-ms", "20")
        policy_text = POLICY.replace("PRIMARY", primary).replace("BACKUP", backup)
        policy = work / "policy.yaml"
        policy.write_text(policy_text)
        (work / "policy.source.yaml").write_text(policy_text)
        settings = {
            "SIDECAR_RELOAD_INTERVAL_S": "0.2",
            "SIDECAR_APP": APP,
            "SIDECAR_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        }
        sidecar, access_log, prometheus = scraped_sidecar(processes, policy, settings)
        record = Scenario(prometheus, access_log)
        # Route solo's error alert needs 10 requests in its 5 s window (the fast copy's volume floor): a
        # loop of their own, since one solo call per round of all ten fell under it on a loaded machine.
        traffic = [Traffic(sidecar), Traffic(sidecar, only=frozenset({"solo"}))]
        for app in traffic:
            app.start()
        # Prometheus hands its first targets to the scrape loop some seconds after it is ready: the
        # scenario starts once the sidecar has been scraped, so Prometheus sees the state before each step.
        record.wait(20, lambda: bool(record.query("llm_sidecar_build_info")["data"]["result"]))
        record.wait(3)
        serving = policy_text.replace(
            "routes:\n", "routes:\n  - {name: spare, match: {model: never-sent}, target: fast}\n"
        )
        apply(policy, serving)
        record.wait(2)  # more than a scrape apart: each reload is seen by Prometheus
        apply(policy, serving.replace("target: fast\n", "target: nowhere\n"))
        record.rejected_at = time.monotonic()
        record.wait(8, lambda: record.state_at_end(RELOAD) == "firing")
        apply(policy, serving)  # the runbook's rollback: the file is the policy that serves again
        record.restored_at = time.monotonic()
        record.wait(2)
        record.fault_on = time.monotonic()
        http("POST", f"{primary}/_fake/config", {"fault": "status=503"})
        alerts = (BREAKER, FALLBACK, ROUTE_ERRORS)
        record.wait(20, lambda: all(record.state_at_end(alert) == "firing" for alert in alerts))
        record.fault_off = time.monotonic()
        http("POST", f"{primary}/_fake/config", {"fault": None})
        record.wait(20, lambda: all(record.state_at_end(alert) == "inactive" for alert in alerts))
        record.capped_at = time.monotonic()
        with held_connections(sidecar, MAX_CONNECTIONS + 4):
            record.wait(10, lambda: record.state_at_end(REFUSED) == "firing")
        record.released_at = time.monotonic()
        record.wait(15, lambda: record.state_at_end(REFUSED) == "inactive")
        yield record
    finally:
        for app in traffic:
            app.stop()
        processes.close()


def test_breaker_alert_fires_while_a_provider_fails(scenario: Scenario) -> None:
    """With primary answering 503, LLMSidecarBreakerOpen fires within its window and `for` (2 s + 3 s
    in the fast copy) plus the few seconds the breaker takes to open and Prometheus to scrape."""
    fired = scenario.first(BREAKER, "firing", scenario.fault_on)
    assert fired is not None, scenario.states.get(BREAKER)
    assert fired - scenario.fault_on < 2 + 3 + 6


def test_breaker_alert_resolves_when_the_fault_is_removed(scenario: Scenario) -> None:
    """Once primary answers again, a probe closes the breaker and the alert goes inactive."""
    resolved = scenario.first(BREAKER, "inactive", scenario.fault_off)
    assert resolved is not None, scenario.states.get(BREAKER)
    assert resolved - scenario.fault_off < 10


def test_fallback_alert_fires_while_a_provider_fails(scenario: Scenario) -> None:
    """With primary failing, route chat is served by backup: LLMSidecarFallbackRatioHigh fires within
    its window and `for` (5 s + 5 s in the fast copy) plus a few seconds."""
    fired = scenario.first(FALLBACK, "firing", scenario.fault_on)
    assert fired is not None, scenario.states.get(FALLBACK)
    assert fired - scenario.fault_on < 5 + 5 + 6


def test_fallback_alert_resolves_when_the_fault_is_removed(scenario: Scenario) -> None:
    """Once primary answers again, the fallback ratio falls under 20 % within the 5 s window and the
    alert goes inactive."""
    resolved = scenario.first(FALLBACK, "inactive", scenario.fault_off)
    assert resolved is not None, scenario.states.get(FALLBACK)
    assert resolved - scenario.fault_off < 12


def test_firing_alerts_name_where_to_look(scenario: Scenario) -> None:
    """The firing breaker alert carries the target (primary/fast-1), namespace and app as labels and in
    its description; the fallback alert names route chat."""
    (breaker,) = scenario.firing[BREAKER]
    assert breaker["labels"] | {"namespace": NAMESPACE, "app": APP, "target": "primary/fast-1"} == breaker["labels"]
    assert "primary/fast-1" in breaker["annotations"]["description"]
    routes = {alert["labels"]["route"] for alert in scenario.firing[FALLBACK]}
    assert "chat" in routes
    assert all(f"route {a['labels']['route']}" in a["annotations"]["description"] for a in scenario.firing[FALLBACK])


def test_route_error_alert_fires_for_the_route_without_a_fallback(scenario: Scenario) -> None:
    """With primary answering 503, route solo (primary only) answers 5xx: LLMSidecarRouteErrorRatioHigh
    fires for it (the real series' status_class="5xx") within its window and `for` (5 s + 5 s) plus a few
    seconds, and goes inactive once the fault is removed; route chat, which falls back, does not fire."""
    fired = scenario.first(ROUTE_ERRORS, "firing", scenario.fault_on)
    assert fired is not None, scenario.states.get(ROUTE_ERRORS)
    assert fired - scenario.fault_on < 5 + 5 + 6
    routes = {alert["labels"]["route"] for alert in scenario.firing[ROUTE_ERRORS]}
    assert "solo" in routes and "chat" not in routes, routes
    resolved = scenario.first(ROUTE_ERRORS, "inactive", scenario.fault_off)
    assert resolved is not None and resolved - scenario.fault_off < 12, scenario.states.get(ROUTE_ERRORS)


def test_budget_alert_fires_for_the_limit_and_scope_at_its_amount(scenario: Scenario) -> None:
    """Limit chat-rpm (1 request a minute for route chat, action warn) is used up from the first
    minute: LLMSidecarBudgetNearLimit fires with the real gauges' limit and scope labels."""
    assert scenario.first(BUDGET, "firing", 0.0) is not None, scenario.states.get(BUDGET)
    labels = {(alert["labels"]["limit"], alert["labels"]["scope"]) for alert in scenario.firing[BUDGET]}
    assert ("chat-rpm", "chat") in labels, labels


def test_connections_alert_fires_for_the_pod_while_connections_are_held_past_the_cap(scenario: Scenario) -> None:
    """Connections held open past the proxy port's cap (SIDECAR_MAX_CONNECTIONS) are refused and counted:
    LLMSidecarConnectionsRefused goes pending, then fires within its `for` (1 s in the fast copy) plus a
    scrape and an evaluation, for this pod's app listener; it was never pending or firing before (the
    traffic alone stays under the cap)."""
    assert [state for t, state in scenario.states.get(REFUSED, []) if t < scenario.capped_at] in ([], ["inactive"])
    pending = scenario.first(REFUSED, "pending", scenario.capped_at)
    fired = scenario.first(REFUSED, "firing", scenario.capped_at)
    assert pending is not None and fired is not None, scenario.states.get(REFUSED)
    assert pending <= fired and fired - scenario.capped_at < 1 + 6
    (alert,) = scenario.firing[REFUSED]
    assert alert["labels"] | {"namespace": NAMESPACE, "app": APP, "pod": POD, "listener": "app"} == alert["labels"]
    assert f"pod {POD}" in alert["annotations"]["description"]


def test_connections_alert_resolves_once_no_connection_is_refused(scenario: Scenario) -> None:
    """Once the held connections close, no connection is refused: the alert goes inactive when its
    5 s window (5 m in the real rules) has passed without a refusal."""
    resolved = scenario.first(REFUSED, "inactive", scenario.released_at)
    assert resolved is not None, scenario.states.get(REFUSED)
    assert resolved - scenario.released_at < 5 + 6


def test_a_rejected_policy_reload_fires_the_reload_alert_for_the_pod(scenario: Scenario) -> None:
    """A policy file the sidecar rejects (an unknown model) sets llm_sidecar_policy_last_reload_successful
    to 0: LLMSidecarPolicyReloadRejected fires for the pod within its `for` (1 s in the fast copy) plus a
    scrape and an evaluation."""
    fired = scenario.first(RELOAD, "firing", scenario.rejected_at)
    assert fired is not None, scenario.states.get(RELOAD)
    assert fired - scenario.rejected_at < 6
    assert [alert["labels"]["pod"] for alert in scenario.firing[RELOAD]] == [POD]


def test_the_reload_alert_resolves_once_the_policy_is_rolled_back(scenario: Scenario) -> None:
    """Rolling the file back to the policy that serves (the runbook's act; no reload, the same version)
    sets the gauge back to 1: the pod no longer serves a stale policy and the alert goes inactive within
    a scrape and an evaluation."""
    resolved = scenario.first(RELOAD, "inactive", scenario.restored_at)
    assert resolved is not None, scenario.states.get(RELOAD)
    assert resolved - scenario.restored_at < 5


def test_prometheus_counts_the_first_reload_of_each_outcome(scenario: Scenario) -> None:
    """The scenario's one applied reload and one rejected file each count 1 in increase() over the
    run (what *Policy reloads by outcome* and the reload annotation read): the first reload of a pod is
    not lost to a series that only appears once it is 1."""
    answer = scenario.query(
        f'sum by (outcome) (increase(llm_sidecar_policy_reloads_total{{namespace="{NAMESPACE}"}}[10m]))'
    )
    counted = {sample["metric"]["outcome"]: round(float(sample["value"][1])) for sample in answer["data"]["result"]}
    assert counted == {"ok": 1, "error": 1}, answer["data"]


DASHBOARD_QUERIES = queries(load())
# Series the scenario never makes: a bulkhead's queue time exists only once calls queue for a slot (the
# scenario's bulkheads, the default 2048 slots a target, never fill, and a policy-wide max_concurrent low
# enough to fill them would fire LLMSidecarBulkheadSaturated among the alerts above; its samples:
# tests/server/test_bulkhead_wait.py); the cache store's errors and the budget store's events exist once
# a store fails (tests/deploy/test_prometheus_stores_live.py, where a real Redis goes away).
ABSENT_HERE = ("llm_sidecar_bulkhead_wait_seconds", *STORE_FAILURE_SERIES)


def absent_here(query: PanelQuery) -> bool:
    return any(metric in query.expr for metric in ABSENT_HERE)


@pytest.mark.parametrize(
    "query", [q for q in DASHBOARD_QUERIES if "cache_results" not in q.expr and not absent_here(q)], ids=str
)
def test_every_dashboard_query_returns_data_once_traffic_has_flowed(scenario: Scenario, query: PanelQuery) -> None:
    """The panel's query, with the dashboard's variables set to this pod's namespace and app (All routes),
    returns at least one finite value from Prometheus, and each label it groups by is set in a sample:
    no panel reads a metric or a label the real sidecar does not export."""
    assert dashboard_answer_problems(scenario, query) == []


@pytest.mark.parametrize(
    "variable", [v for v in load()["templating"]["list"] if v["type"] == "query"], ids=lambda v: str(v["name"])
)
def test_every_dashboard_variable_lists_the_labels_the_kubernetes_scrape_attaches(
    scenario: Scenario, variable: dict[str, Any]
) -> None:
    """label_values(...) of the namespace, app and route variables, asked of Prometheus as Grafana asks
    it, lists this pod's namespace and app (attached by deploy/prometheus/scrape-config.yaml's relabelling)
    and the policy's routes."""
    series, label = re.fullmatch(r"label_values\((.*), *(\w+)\)", variable["definition"]).groups()  # type: ignore[union-attr]
    match = urllib.parse.urlencode({"match[]": substitute(series, GRAFANA_VALUES)})
    values = http("GET", f"{scenario.prometheus}/api/v1/label/{label}/values?{match}")["data"]
    assert {"namespace": NAMESPACE, "app": APP, "route": "chat"}[label] in values, values


@pytest.mark.parametrize("query", [q for q in DASHBOARD_QUERIES if "cache_results" in q.expr], ids=str)
def test_cache_row_queries_are_valid_and_empty_while_no_route_caches(scenario: Scenario, query: PanelQuery) -> None:
    """The cache panels' queries are valid PromQL; they return nothing while the policy format has no
    cache (the row then shows its "cache off" text). Once the policy has a cache, enable it in POLICY:
    this test then requires data instead."""
    answer = scenario.query(substitute(query.expr, GRAFANA_VALUES))
    assert answer["status"] == "success"
    if CACHE_IN_POLICY:
        assert answer["data"]["result"], "the policy has a cache now: enable it in POLICY so this row gets data"
    else:
        assert answer["data"]["result"] == []


@pytest.mark.parametrize("query", [q for q in DASHBOARD_QUERIES if absent_here(q)], ids=str)
def test_queries_of_series_the_scenario_never_makes_are_valid_and_empty(scenario: Scenario, query: PanelQuery) -> None:
    """The queue-time panel's and the store failure panels' queries are valid PromQL over the real scrape,
    and empty while no call of the scenario queued for a bulkhead slot and no store failed (those series
    do not exist before their first event; the store panels' data: test_prometheus_stores_live.py)."""
    answer = scenario.query(substitute(query.expr, GRAFANA_VALUES))
    assert answer["status"] == "success"
    assert answer["data"]["result"] == []
