"""The policy of ``sdk_soak.py`` (both pods read the one file): its providers (the fakes ``f1``, ``f2``,
``f3``, and ``f4``, bench/sdk_soak_scripted.py; the ensemble's members on f1, f2, f4 under names of their
own), models, routes and budgets, and its variants written by the soak's reloads (``VALID``; ``REMOVING``:
a target in use gone; ``RESAMPLED``: the pool route's sample rate changed; ``BROKEN``: rejected)."""

from __future__ import annotations

from sdk_soak_checks import DEADLINE_S
from sdk_soak_ledger import PROVIDER_REQUESTS, ROUTE_USD

# the ensemble's members' providers, on f1, f2 and f4 under names of their own: no other route's calls count
# on their requests counters, which the soak checks against the vote's lines (bench/sdk_soak_ledger.py)
ENSEMBLE_ENDPOINTS = (("e1oa", "openai", "F1/v1"), ("e2an", "anthropic", "F2"), ("e4ge", "gemini", "F4"))
TIMEOUTS = "timeouts: {connect_s: 1, first_byte_s: 1.5, idle_s: 2, total_s: 8}"
PROVIDERS = "\n".join(
    f"  {fake}{short}: {{kind: {kind}, base_url: '{fake.upper()}{suffix}', {TIMEOUTS}}}"
    for fake in ("f1", "f2", "f3", "f4")
    for short, kind, suffix in (("oa", "openai", "/v1"), ("an", "anthropic", ""), ("ge", "gemini", ""))
    if (fake != "f3" or short != "ge") and (fake != "f4" or short != "oa")  # f4: bench/sdk_soak_scripted.py's
) + "".join(f"\n  {name}: {{kind: {kind}, base_url: '{url}', {TIMEOUTS}}}" for name, kind, url in ENSEMBLE_ENDPOINTS)
CAPABILITIES = "capabilities: [chat, streaming, tools, json]"
MODEL_TABLE = (
    ("a-oa", "f1oa", "gpt-a"),
    ("a-an", "f1an", "claude-a"),
    ("a-ge", "f1ge", "gemini-a"),
    ("b-oa", "f2oa", "gpt-b"),
    ("b-an", "f2an", "claude-b"),
    ("b-ge", "f2ge", "gemini-b"),
    ("c-oa", "f3oa", "gpt-c"),  # f3: never faulted, its calls wait for the small connection pool
    ("c-an", "f3an", "claude-c"),
    ("d-ge", "f4ge", "gemini-d"),  # f4: scripted usage on some fragments, thinking and cache-read tokens
    ("d-an", "f4an", "claude-d"),  # f4: scripted cache writes (5 min and 1 h), thinking, new stop reasons
    ("e-oa", "e1oa", "gpt-e"),  # the ensemble's members
    ("e-an", "e2an", "claude-e"),
    ("e-ge", "e4ge", "gemini-e"),
)
PROVIDER_OF = {name: provider for name, provider, _ in MODEL_TABLE}
PRICE = "price: {input_per_mtok: 1, output_per_mtok: 2}"
MODELS = "\n".join(
    f"  {name}: {{provider: {provider}, model: {model}, {PRICE}, {CAPABILITIES}}}"
    for name, provider, model in MODEL_TABLE
)
POLICY = f"""
version: 1
defaults:
  unsupported_params: drop
  resilience:
    max_attempts_per_target: 2
    deadline_s: {DEADLINE_S}
    backoff: {{base_s: 0.05, cap_s: 0.3}}
    rate_limit_max_wait_s: 1
    fallback_on: [429, 500, 502, 503, 504, 529]
  breaker: {{window: count, window_size: 20, minimum_calls: 5, failure_rate: 0.5, open_s: 1, open_max_s: 3}}
  bulkhead: {{max_concurrent: 64, queue_timeout_s: 1}}
providers:
{PROVIDERS}
models:
{MODELS}
routes:
  - name: soak-id
    match: {{model: soak-never, headers: {{x-soak-id: never}}}}
    deny: {{message: "never taken: makes the access line log x-soak-id", status: 403}}
  - name: chain
    match: {{model: chain}}
    target: CHAIN
  - name: hedged
    match: {{model: hedged}}
    target: [a-an, b-oa, a-ge]
    resilience: {{hedge: {{after_s: 0.5}}}}
  - name: cached
    match: {{model: cached}}
    target: [a-ge, b-oa]
    cache: {{enabled: true, cacheable: always, ttl_s: 600}}
  - name: capped
    match: {{model: capped}}
    target: [b-an, a-oa]
  - name: spare
    match: {{model: spare}}
    target: SPARE
  - name: usage
    match: {{model: usage}}
    target: [d-ge]
  - name: writes
    match: {{model: writes}}
    target: [d-an]
    cache: {{enabled: true, cacheable: always, ttl_s: 600}}
  - name: vote
    match: {{model: vote}}
    ensemble: {{members: [e-oa, e-an, e-ge], strategy: majority, min_members: 2}}
  - name: pool
    match: {{model: pool}}
    target: [c-oa, c-an]
    access_log: {{sample: SAMPLE}}
budgets:
  store: {{url: "redis://127.0.0.1:REDIS/0", timeout_ms: 300, connect_timeout_ms: 300}}
  limits:
    - {{name: spend, measure: usd, amount: 1000, window: day}}
    - {{name: capped-rpm, measure: requests, amount: 40, window: minute,
       scope: {{by: route, values: [capped], others: exempt}}}}
    - {{name: f2oa-rpm, measure: requests, amount: 25, window: minute,
       scope: {{by: provider, values: [f2oa], others: exempt}}}}
    - {{name: {ROUTE_USD}, measure: usd, amount: 1000, window: day, scope: {{by: route}}}}
    - {{name: {PROVIDER_REQUESTS}, measure: requests, amount: 1000000, window: day, scope: {{by: provider}}}}
access_log: {{sample: 1}}
cache:
  redis: {{url: "redis://127.0.0.1:REDIS/1", timeout_s: 0.2}}
"""
VALID = {"CHAIN": "[a-oa, b-an, b-ge]", "SPARE": "[b-ge]", "SAMPLE": "0.3"}
REMOVING = {"CHAIN": "[a-oa, b-an]", "SPARE": "[b-an]", "SAMPLE": "0.3"}  # b-ge, a target in use, is gone
RESAMPLED = {**VALID, "SAMPLE": "0.7"}  # the pool route's share of access lines changed by a reload
BROKEN = ("version: 1\nroutes: [\n", "version: 1\nproviders: {x: {kind: nope}}\n")


def policy_text(ports: dict[str, int], variant: dict[str, str]) -> str:
    text = POLICY
    for fake in ("f1", "f2", "f3", "f4"):
        text = text.replace(fake.upper(), f"http://127.0.0.1:{ports[fake]}")
    for key, value in variant.items():
        text = text.replace(key, value)
    return text.replace("REDIS", str(ports["redis"]))
