"""The cache key tests' policy (``POLICY``: routes that cache, share, scope by the caller's key or deny),
one chat body (``BODY``), and the calls that compile a route's plan and key a request on it
(``route_plan``, ``key_decision``, ``cache_key``), shared by test_key and test_plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sidecar.cache import RouteCacheSpec, compile_route_cache
from sidecar.cache.plan import KeyDecision, RouteCache
from sidecar.dialects import Dialect, Operation
from sidecar.policy import load_policy_bytes
from sidecar.policy.compiled import Target

POLICY = load_policy_bytes(
    b"""
providers:
  openai: {dialect: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
  anthropic: {dialect: anthropic, base_url: "https://api.anthropic.com", api_key: {passthrough: true}}
models:
  gpt: {provider: openai, model: gpt-4o-mini}
  gpt-big: {provider: openai, model: gpt-4o, max_output_tokens: 2048}
  claude: {provider: anthropic, model: claude-sonnet-4-5}
routes:
  - {name: chat, match: {model: gpt}, target: [gpt, gpt-big]}
  - {name: chat-reordered, match: {model: other}, target: [gpt-big, gpt]}
  - {name: keyed, match: {model: keyed}, target: claude}
  - {name: own-key, match: {model: own}, target: gpt}
  - {name: retired, match: {model: old}, deny: {message: retired}}
""",
    "key-test.yaml",
)
ON = RouteCacheSpec(enabled=True)


def route_plan(route: str = "chat", **settings: Any) -> RouteCache:
    plan = compile_route_cache(next(r for r in POLICY.routes if r.name == route), ON.model_copy(update=settings))
    assert plan is not None
    return plan


def key_decision(
    body: dict[str, Any],
    *,
    plan: RouteCache | None = None,
    dialect: Dialect = Dialect.OPENAI,
    operation: Operation | None = None,
    model: str = "gpt",
    app: str = "web",
    caller_key: str | None = None,
    raw: bytes = b"",
    headers: Mapping[str, str] | None = None,
    chain: Sequence[Target] = (),
) -> KeyDecision:
    plan = plan or route_plan()
    if operation is None:
        operation = Operation.GENERATE_CONTENT if dialect is Dialect.GEMINI else Operation.CHAT
    return plan.key(
        dialect=dialect,
        operation=operation,
        model=model,
        body=body,
        raw=raw,
        deployment_app="pod-app",
        app=app,
        caller_key=caller_key,
        headers=headers or {},
        chain=chain,
    )


def cache_key(body: dict[str, Any], **options: Any) -> str | None:
    return key_decision(body, **options).key


BODY = {"model": "gpt", "messages": [{"role": "user", "content": "Classify: invoice"}], "temperature": 0}
