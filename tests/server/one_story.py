"""The five places that tell what the sidecar did with one request (tests/server/test_one_story.py):
the answer's headers, its access line, ``/metrics``, its spans (the in-memory exporter, every request
sampled) and the budget counters of ``/status``. ``Places.before`` snapshots the counters; ``told``
waits for the request's bookkeeping (made after its answer went out) and gathers what each place says
about it, as changes since the snapshot.

The policy (``story_policy``): three fake providers speaking the three dialects behind one route
``story`` that selects the cheapest capable model of ``cheap`` (OpenAI), ``mid`` (Anthropic) and
``dear`` (Gemini), caches, hedges after 2 s, re-asks an answer that starts ``gate-me``, serves a stale
answer as its last resort and counts dollars, tokens and requests per route (and, with ``quota``,
requests of ``cheap`` alone) in the budgets' local store or Redis; a second route, ``spare``, caches
too, so that the story route's cache can be turned off by a reload while the store stays.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from opentelemetry.sdk.trace import ReadableSpan
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import FakeFactory, RunningSidecar, provider_block
from ..waiting import until

PRICES = {"cheap": (1.0, 2.0), "mid": (3.0, 6.0), "dear": (10.0, 20.0)}
SPEAKS = {"cheap": "openai", "mid": "anthropic", "dear": "gemini"}
FAKE_NAMES = {"cheap": "fo", "mid": "fa", "dear": "fg"}
EPSILON = 1e-8  # the access line's cost_usd has 8 decimals (docs/logs.md)

MetricKey = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class Options:
    """What a test turns on besides the route's usual features."""

    ttl_s: float = 300
    quota: int = 0  # >0: a deny limit of that many requests on the model cheap
    shadow: bool = False
    redis_url: str = ""
    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(PRICES))
    cache: bool = True
    route_usd: float = 1000
    hedge_s: float = 2
    ensemble: str = ""  # the story route an ensemble of the three models instead: its other settings (YAML)


async def fakes(fake: FakeFactory) -> dict[str, str]:
    """One fake provider per model, each named as ``FAKE_NAMES`` says (for ``x-fake-fault`` items)."""
    return {model: await fake(FAKE_NAMES[model]) for model in PRICES}


def story_policy(urls: dict[str, str], options: Options = Options()) -> str:
    text = "version: 1\nproviders:\n"
    text += "".join(provider_block(f"p-{model}", url, SPEAKS[model]) for model, url in urls.items())
    text += "models:\n"
    for model, (price_in, price_out) in options.prices.items():
        text += f"  {model}: {{provider: p-{model}, model: up-{model}, quality: {{tier: economy}},"
        text += f" price: {{input_per_mtok: {price_in}, output_per_mtok: {price_out}}}}}\n"
    text += (
        "routing:\n  tiers: [economy]\n  default_class: chat\n"
        "  classes:\n    - {name: extraction, rules: [{keywords: [extract]}]}\n"
        "  complexity:\n    default: simple\n    levels:\n      - {name: simple, tier: economy}\n"
        "      - {name: hard, tier: economy, rules: [{keywords: [prove]}]}\n"
    )
    text += "routes:\n  - name: story\n    match: {model: story}\n"
    if options.ensemble:
        text += f"    ensemble: {{members: [cheap, mid, dear], {options.ensemble}}}\n"
    else:
        text += "    target: {select: cheapest, from: [cheap, mid, dear]}\n"
    if options.cache:
        text += f"    cache: {{enabled: true, ttl_s: {options.ttl_s}, stale_s: 300}}\n"
    text += (
        "    resilience: {backoff: {base_s: 0.01, cap_s: 0.02}, max_attempts_per_target: 2,"
        f" hedge: {{after_s: {options.hedge_s}}}, last_resort: {{kind: cache}}}}\n"
        "    gates: {regex: {pattern: '^(?!gate-me)'}, on_fail: reask, max_reasks: 1,"
        " reask_prompt: 'Again please: {error}'}\n"
    )
    if options.shadow:
        text += "    shadow: {candidates: [dear], sample: 1}\n"
    text += "  - {name: spare, match: {model: spare}, target: cheap, cache: {enabled: true}}\n"  # keeps a cache store
    text += "budgets:\n"
    if options.redis_url:
        # timeouts that only guard a hang: a loaded machine's slow call is no fallback with a late settlement
        text += f"  store: {{url: '{options.redis_url}', timeout_ms: 10000, connect_timeout_ms: 10000}}\n"
    text += (
        "  limits:\n"
        f"    - {{name: route-usd, measure: usd, amount: {options.route_usd}, window: day, scope: {{by: route}}}}\n"
        "    - {name: route-tokens, measure: tokens, amount: 100000000, window: day, scope: {by: route}}\n"
        "    - {name: route-requests, measure: requests, amount: 1000000, window: day, scope: {by: route}}\n"
    )
    if options.quota:
        text += (
            f"    - {{name: cheap-quota, measure: requests, amount: {options.quota}, window: day,"
            " scope: {by: model, values: [cheap], others: exempt}, action: deny}\n"
        )
    return text


async def _metrics(running: RunningSidecar) -> dict[MetricKey, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as response:
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _budgets(running: RunningSidecar) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/status") as response:
        status = await response.json()
    return {f"{row['limit']}/{row['value']}": float(row["used"]) for row in status["budgets"]}


@dataclass
class Snapshot:
    metrics: dict[MetricKey, float]
    budgets: dict[str, float]
    spans: int


async def snapshot(running: RunningSidecar) -> Snapshot:
    return Snapshot(await _metrics(running), await _budgets(running), len(running.spans.get_finished_spans()))


@dataclass
class Told:
    """What each place says about one request."""

    headers: dict[str, str]
    access: dict[str, Any]
    server: ReadableSpan
    calls: list[ReadableSpan]  # the request's CLIENT spans
    shadow_calls: list[ReadableSpan]  # its shadow candidates' CLIENT spans
    metrics: dict[MetricKey, float]  # the changes
    budgets: dict[str, float]  # the changes of the rows' use

    def metric(self, name: str, **labels: str) -> float:
        """The change of ``name`` summed over the series whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(value for (seen, series), value in self.metrics.items() if seen == name and wanted <= series)

    def series(self, name: str) -> list[dict[str, str]]:
        """The labels of ``name``'s series that moved."""
        return [dict(series) for (seen, series), value in self.metrics.items() if seen == name and value]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [dict(event.attributes or {}) for event in self.server.events if event.name == name]

    @property
    def span(self) -> dict[str, Any]:
        return dict(self.server.attributes or {})


def _changes(after: dict[Any, float], before: dict[Any, float]) -> dict[Any, float]:
    moved = {key: value - before.get(key, 0.0) for key, value in after.items()}
    return {key: value for key, value in moved.items() if value}


def _access(running: RunningSidecar, request_id: str) -> list[dict[str, Any]]:
    return [line for line in running.log_lines() if line.get("request_id") == request_id]


async def told(running: RunningSidecar, before: Snapshot, headers: Any, requests: float = 1, shadows: int = 0) -> Told:
    """The five places' story of the request whose answer had ``headers``, once its bookkeeping is done
    (``requests``: how many requests ``llm_sidecar_requests_total`` counts since ``before``; ``shadows``:
    how many shadow calls it made, in the background, after its answer)."""
    request_id = headers["x-sidecar-request-id"]
    [access] = await until(lambda: _access(running, request_id), lambda lines: len(lines) == 1)

    def moved(metrics: dict[MetricKey, float]) -> bool:
        counted = _changes(metrics, before.metrics)
        served = sum(v for (name, _), v in counted.items() if name == "llm_sidecar_requests_total")
        shadowed = sum(v for (name, _), v in counted.items() if name == "llm_sidecar_shadow_results_total")
        return served >= requests and shadowed >= shadows

    metrics = await until(lambda: _metrics(running), moved)
    trace_id = int(access["trace_id"], 16)
    spans = [s for s in running.spans.get_finished_spans() if s.context is not None]
    mine = [s for s in spans if s.context.trace_id == trace_id]  # type: ignore[union-attr]
    [server] = [s for s in mine if s.parent is None or s.parent.is_remote]
    ended = server.end_time or 0
    calls = [s for s in mine if s.kind.name == "CLIENT" and (s.start_time or 0) < ended]
    # Shadow calls start after the request's span ended (docs/observability.md)
    shadow_calls = [s for s in mine if s.kind.name == "CLIENT" and (s.start_time or 0) >= ended]
    assert len(shadow_calls) == shadows
    cost = access.get("cost_usd", 0.0)

    async def budgets_moved() -> dict[str, float]:
        return _changes(await _budgets(running), before.budgets)

    # A shared store's settlement is queued (sent within 20 ms: docs/budgets.md); the local one's is done.
    budgets = await until(budgets_moved, lambda moved: abs(moved.get("route-usd/story", 0.0) - cost) < EPSILON)
    headers = {k.lower(): v for k, v in headers.items()}
    return Told(headers, access, server, calls, shadow_calls, _changes(metrics, before.metrics), budgets)


def check_one_story(told: Told, *, cache: str | None) -> None:
    """The invariants every request's places must share (docs/headers.md, docs/logs.md,
    docs/observability.md, docs/budgets.md): the route, the model and provider that answered, the
    attempts, the cost, the tokens, the cache's verdict, routing's task and complexity."""
    headers, access, span = told.headers, told.access, told.span
    route = headers["x-sidecar-route"]
    assert route == access["route"] == span["sidecar.route"] == "story"
    [requests] = told.series("llm_sidecar_requests_total")
    assert requests["route"] == route
    served = headers.get("x-sidecar-model")
    assert served == access.get("served_model") == span.get("sidecar.served_model")
    assert requests["served_model"] == (served or "")
    assert requests["outcome"] == access["outcome"] == span["sidecar.outcome"]
    if served is not None:
        assert headers["x-sidecar-provider"] == access["provider"] == f"p-{served}"
    check_attempts(told)
    check_fallbacks(told)
    if "x-sidecar-gates" in headers or "gates" in access:
        assert headers["x-sidecar-gates"].split(";")[0] == access["gates"]
    check_cost(told)
    check_tokens(told)
    check_cache(told, cache)
    check_routing(told)


def check_attempts(told: Told) -> None:
    attempts = int(told.headers["x-sidecar-attempts"])
    assert attempts == told.access["attempts"] == told.span.get("sidecar.attempts", 1)
    # every upstream call is counted, a shadow's too (docs/observability.md)
    assert attempts + len(told.shadow_calls) == told.metric("llm_sidecar_upstream_attempts_total")
    assert attempts == len(told.calls)
    # one request, counted when it billed anything (docs/budgets.md); a hit never reaches the budgets
    assert told.budgets.get("route-requests/story", 0) == (1 if told.access.get("cost_usd") else 0)


def check_fallbacks(told: Told) -> None:
    """Why the first choice did not serve, and each move and skip: headers, access line, span, metrics."""
    reason = told.headers.get("x-sidecar-fallback-reason")
    assert reason == told.access.get("fallback_reason") == told.span.get("sidecar.fallback.reason")
    moves = told.events("sidecar.fallback")
    assert told.metric("llm_sidecar_fallbacks_total") == len(moves)
    if reason is not None:  # the first move's reason, or the first skip's (docs/headers.md)
        first = next(e for e in told.server.events if e.name in ("sidecar.fallback", "sidecar.target.skipped"))
        attributes = dict(first.attributes or {})
        assert reason == attributes.get("sidecar.fallback.reason", attributes.get("sidecar.skip.reason"))
    skips = told.events("sidecar.target.skipped")
    assert told.metric("llm_sidecar_skips_total") == len(skips)
    # a span's and a metric's target is <provider>/<upstream model>, the access line's the policy's model
    named = {f"p-{model}/up-{model}": model for model in PRICES}
    assert [f"{named[s['sidecar.target']]}:{s['sidecar.skip.reason']}" for s in skips] == [
        entry for entry in told.access.get("attempt_log", []) if entry.split(":")[-1] in ("budget", "breaker_open")
    ]


def check_cost(told: Told) -> None:
    cost = told.access.get("cost_usd", 0.0)
    assert abs(told.metric("llm_sidecar_cost_usd_total", route="story") - cost) < EPSILON
    assert abs(told.budgets.get("route-usd/story", 0.0) - cost) < EPSILON
    assert abs(told.span.get("sidecar.cost_usd", 0.0) - cost) < EPSILON


def reported(calls: list[ReadableSpan], kind: str) -> int:
    """The tokens of ``kind`` the providers reported for ``calls`` (their spans' usage)."""
    return sum((span.attributes or {}).get(f"gen_ai.usage.{kind}_tokens", 0) for span in calls)


def check_tokens(told: Told) -> None:
    """The access line's tokens are every call's the request paid for, as its cost and the budgets count
    them; the spans and the GenAI histograms have what the providers reported, each call's (a shadow's
    too), so the two agree unless the line says ``tokens_estimated`` (a hedge's cut call: its prompt)."""
    spent = {kind: told.access.get(f"{kind}_tokens", 0) for kind in ("input", "output")}
    for kind, tokens in spent.items():
        assert told.metric("llm_sidecar_tokens_total", route="story", type=kind) == tokens, kind
        providers = reported(told.calls, kind) + reported(told.shadow_calls, kind)
        assert told.metric("gen_ai_client_token_usage_sum", gen_ai_token_type=kind) == providers, kind
        if not told.access.get("tokens_estimated"):
            assert reported(told.calls, kind) == tokens, kind
    assert told.budgets.get("route-tokens/story", 0) == spent["input"] + spent["output"]


def check_cache(told: Told, cache: str | None) -> None:
    assert told.headers.get("x-sidecar-cache") == told.access.get("cache") == cache
    results = [event["sidecar.cache.result"] for event in told.events("sidecar.cache")]
    expected = ["miss", "stale"] if cache == "stale" else [cache] if cache else []
    assert results == expected
    results_total = "llm_sidecar_cache_results_total"
    counted = Counter({s["result"]: told.metric(results_total, **s) for s in told.series(results_total)})
    assert counted == Counter(expected)
    hit = cache in ("hit", "stale")
    assert told.span.get("sidecar.cache.hit", False) is hit
    if hit:
        assert int(told.headers["age"]) >= 0


def check_routing(told: Told) -> None:
    task, complexity = told.headers["x-sidecar-task"], told.headers["x-sidecar-complexity"]
    assert (task, complexity) == (told.access["task"], told.access["complexity"])
    assert (task, complexity) == (told.span["sidecar.routing.task"], told.span["sidecar.routing.complexity"])
    [decision] = told.series("llm_sidecar_routing_decisions_total")
    assert (decision["route"], decision["task"], decision["complexity"]) == ("story", task, complexity)
    # routing's savings: the app asks for "story", no priced model, so there is no baseline and neither
    # savings counter moves (docs/routing.md, "Reading the savings metric")
    assert "requested_model_cost_usd" not in told.access
    assert told.metric("llm_sidecar_routing_served_cost_usd_total") == 0
