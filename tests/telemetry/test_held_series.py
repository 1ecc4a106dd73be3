"""The series held per kind of request and of call (``held_series``): /metrics shows what per-update
look-ups showed: a series from its first update, each kind's updates in its own series."""

from __future__ import annotations

from sidecar.telemetry import Telemetry, Usage

from .helpers import attempt, finish, samples, start, value

OK = {"route": "default", "served_model": "gpt-4o", "outcome": "ok", "status_class": "2xx"}
CALL = {
    "gen_ai_operation_name": "chat",
    "gen_ai_provider_name": "openai",
    "gen_ai_request_model": "gpt-4o",
    "gen_ai_response_model": "gpt-4o",
}


def names(telemetry: Telemetry) -> set[str]:
    return {name for name, _ in samples(telemetry)}


def test_a_kind_of_request_shows_tokens_and_cost_only_from_the_first_that_reports_them() -> None:
    """A request that reports no usage and no cost makes no tokens or cost series (not even at 0); a
    later one of the same kind that reports them makes them, with its amounts."""
    telemetry = Telemetry.from_env({}, service_version="t")
    finish(start(telemetry), usage=None, cost_usd=None)
    assert value(telemetry, "llm_sidecar_requests_total", **OK) == 1
    assert not names(telemetry) & {"llm_sidecar_tokens_total", "llm_sidecar_cost_usd_total"}
    finish(start(telemetry), usage=Usage(input_tokens=5, output_tokens=0, cached_input_tokens=2), cost_usd=0.25)
    assert value(telemetry, "llm_sidecar_requests_total", **OK) == 2
    tokens = {"served_model": "gpt-4o", "route": "default"}
    assert value(telemetry, "llm_sidecar_tokens_total", **tokens, type="input") == 5
    assert value(telemetry, "llm_sidecar_tokens_total", **tokens, type="cached_input") == 2
    assert ("llm_sidecar_tokens_total", frozenset({**tokens, "type": "output"}.items())) not in samples(telemetry)
    assert value(telemetry, "llm_sidecar_cost_usd_total", **tokens) == 0.25


def test_series_are_listed_in_the_order_of_their_first_update() -> None:
    """Two kinds of request on one route: the tokens series of the kind that reported tokens first come
    first on /metrics, though the other kind's holder was made before."""
    telemetry = Telemetry.from_env({}, service_version="t")
    finish(start(telemetry), served_model="a", usage=None)
    finish(start(telemetry), served_model="b")
    finish(start(telemetry), served_model="a")
    text = telemetry.metrics_text().decode()
    lines = [line for line in text.splitlines() if line.startswith("llm_sidecar_tokens_total{")]
    assert [line.split('served_model="')[1].split('"')[0] for line in lines] == ["b", "b", "a", "a"]


def test_requests_of_each_kind_add_to_their_own_series() -> None:
    """Requests of two outcomes on one route: each outcome's count and duration series has its own."""
    telemetry = Telemetry.from_env({}, service_version="t")
    for _ in range(3):
        finish(start(telemetry))
    finish(start(telemetry), status=502, outcome="upstream_error")
    assert value(telemetry, "llm_sidecar_requests_total", **OK) == 3
    failed = {"route": "default", "served_model": "", "outcome": "upstream_error", "status_class": "5xx"}
    assert value(telemetry, "llm_sidecar_requests_total", **failed) == 1
    duration = "llm_sidecar_request_duration_seconds_count"
    assert value(telemetry, duration, route="default", outcome="ok") == 3
    assert value(telemetry, duration, route="default", outcome="upstream_error") == 1
    assert value(telemetry, "llm_sidecar_requests_in_flight") == 0


def test_failed_calls_of_one_kind_count_each_error() -> None:
    """Two failed calls of one kind and a successful one: the error count and the attempts by outcome
    move for each, and a call without usage observes no token histogram."""
    telemetry = Telemetry.from_env({}, service_version="t")
    trace = start(telemetry)
    for _ in range(2):
        attempt(trace).finish(status=503, error_type="503", response_model="gpt-4o")
    attempt(trace).finish(status=200, error_type=None, response_model="gpt-4o", usage=Usage(input_tokens=0))
    finish(trace)
    target = {"target": "openai/gpt-4o"}
    assert value(telemetry, "llm_sidecar_upstream_errors_total", **target, error_type="503") == 2
    assert value(telemetry, "llm_sidecar_upstream_attempts_total", **target, outcome="error") == 2
    assert value(telemetry, "llm_sidecar_upstream_attempts_total", **target, outcome="ok") == 1
    count = "gen_ai_client_operation_duration_seconds_count"
    assert value(telemetry, count, **CALL, error_type="503") == 2
    assert value(telemetry, count, **CALL, error_type="") == 1
    usage = "gen_ai_client_token_usage_count"
    assert value(telemetry, usage, **CALL, gen_ai_token_type="input") == 1  # 0 tokens reported: observed
    assert (usage, frozenset({**CALL, "gen_ai_token_type": "output"}.items())) not in samples(telemetry)
