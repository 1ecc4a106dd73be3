"""The cache key: a SHA-256 of the canonical request and of who is asking. Pure functions, no I/O.

    key = "v1:" + sha256( route identity  \\0  dialect  \\0  requested model  \\0  scope
                                     \\0  canonical body ).hex()

- **Route identity** (``route_identity``): the route's name and its target chain (each target's
  provider and upstream model, its output limit), and how unsupported parameters are handled: a
  change of any of them is a new key space.
- **Canonical body** (``canonical_body``): the request body without the fields that do not change the
  answer (``TRANSPORT_FIELDS``, per dialect), keys sorted at every depth (orjson ``OPT_SORT_KEYS``),
  top-level whole floats written as integers (``temperature: 0`` and ``0.0`` are one key). ``stream``
  is a transport field: a streamed and a whole request share an entry.
- **Scope** (``caller_scope``): the deployment's app (``SIDECAR_APP``) and the app the request names
  (``x-sidecar-app``), unless the route shares entries across apps; with a passthrough API key, a
  SHA-256 of the caller's key, always (sharing across apps never shares across keys). The scope is
  hashed into the key and never stored in clear.

Requests the cache cannot answer faithfully are not cacheable (``uncacheable``): ones that ask for
output the common form does not carry (log probabilities, audio, several choices, server-side tools,
citations...), and under ``cacheable: deterministic`` ones with neither ``temperature: 0`` nor a seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal, assert_never

import orjson

from ..dialects import Dialect

KEY_VERSION = "v1"

TRANSPORT_FIELDS: Mapping[Dialect, frozenset[str]] = {
    Dialect.OPENAI: frozenset(
        (
            "stream",
            "stream_options",
            "user",
            "metadata",
            "store",
            "service_tier",
            "safety_identifier",
            "prompt_cache_key",
            "prompt_cache_retention",
        )
    ),
    Dialect.ANTHROPIC: frozenset(("stream", "metadata", "service_tier")),
    Dialect.GEMINI: frozenset(("labels",)),  # the model and streaming are in the URL, not the body
}
"""Fields that change how an answer travels or is billed or tracked, not what it says."""

_OPENAI_UNCACHEABLE = ("logprobs", "top_logprobs", "audio", "web_search_options", "functions", "function_call")
_ANTHROPIC_UNCACHEABLE = ("mcp_servers", "container")
_GEMINI_UNCACHEABLE_CONFIG = ("responseLogprobs", "response_logprobs", "logprobs")


def canonical_body(dialect: Dialect, body: Mapping[str, Any]) -> bytes:
    """The body's bytes with transport fields removed and keys sorted: equal meaning, equal bytes."""
    dropped = TRANSPORT_FIELDS[dialect]
    kept: dict[str, Any] = {}
    for name, value in body.items():
        if name in dropped:
            continue
        if type(value) is float and value.is_integer():
            value = int(value)
        elif dialect is Dialect.GEMINI and type(value) is dict and name in ("generationConfig", "generation_config"):
            value = {k: int(v) if type(v) is float and v.is_integer() else v for k, v in value.items()}
        kept[name] = value
    return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)


def _openai_unfaithful(body: Mapping[str, Any]) -> str | None:
    for name in _OPENAI_UNCACHEABLE:
        if body.get(name):
            return name
    n = body.get("n")
    if n is not None and n != 1:
        return "n"
    modalities = body.get("modalities")
    if modalities and list(modalities) != ["text"]:
        return "modalities"
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or tool.get("type") != "function":
            return "tools"
    return None


def _anthropic_unfaithful(body: Mapping[str, Any], raw: bytes) -> str | None:
    for name in _ANTHROPIC_UNCACHEABLE:
        if body.get(name):
            return name
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
            return "tools"  # server tools (web search, code execution...) answer with blocks not kept
    if b'"citations"' in raw:
        return "citations"  # cited answers carry citation blocks the common form does not keep
    return None


def _gemini_unfaithful(body: Mapping[str, Any]) -> str | None:
    config = body.get("generationConfig") or body.get("generation_config") or {}
    if isinstance(config, dict):
        for name in _GEMINI_UNCACHEABLE_CONFIG:
            if config.get(name):
                return name
        count = config.get("candidateCount", config.get("candidate_count"))
        if count is not None and count != 1:
            return "candidateCount"
        modalities = config.get("responseModalities", config.get("response_modalities"))
        if modalities and [str(m).upper() for m in modalities] != ["TEXT"]:
            return "responseModalities"
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or set(tool) - {"functionDeclarations", "function_declarations"}:
            return "tools"  # googleSearch, codeExecution, urlContext...: grounding is not kept
    return None


def uncacheable(
    dialect: Dialect, body: dict[str, Any], raw: bytes, cacheable: Literal["deterministic", "always"]
) -> str | None:
    """Why the request must not be answered from (or stored in) the cache, or None.

    ``raw`` is the body's bytes as received (searched for markers too costly to find by walking it).
    """
    match dialect:
        case Dialect.OPENAI:
            reason = _openai_unfaithful(body)
        case Dialect.ANTHROPIC:
            reason = _anthropic_unfaithful(body, raw)
        case Dialect.GEMINI:
            reason = _gemini_unfaithful(body)
        case _:
            assert_never(dialect)
    if reason is not None:
        return reason
    if cacheable == "deterministic" and not _deterministic(dialect, body):
        return "nondeterministic"
    return None


def _deterministic(dialect: Dialect, body: dict[str, Any]) -> bool:
    """``temperature`` is the number 0, or an integer ``seed`` is set (a bool is neither)."""
    source: Any = body
    if dialect is Dialect.GEMINI:
        source = body.get("generationConfig") or body.get("generation_config")
        if not isinstance(source, dict):
            return False
    temperature = source.get("temperature")
    seed = source.get("seed")
    return (type(temperature) in (int, float) and temperature == 0) or type(seed) is int


def caller_scope(*, deployment_app: str, app: str, caller_key: str | None, share_across_apps: bool) -> str:
    """Who may read an entry: the apps unless shared, and always the passthrough key's hash."""
    scope = "shared" if share_across_apps else f"app={deployment_app}/{app}"
    if caller_key is not None:
        scope += "|key=" + hashlib.sha256(caller_key.encode()).hexdigest()
    return scope


def route_identity(route_name: str, targets: list[tuple[str, int | None]], unsupported: str) -> bytes:
    """The route's part of every key: its name, its chain (target key, output limit) and translation mode."""
    chain = ",".join(f"{key}#{limit or ''}" for key, limit in targets)
    return f"{route_name}\0{chain}\0{unsupported}".encode()


_DIALECT_BYTES: Mapping[Dialect, bytes] = {dialect: dialect.value.encode() for dialect in Dialect}


def cache_key(identity: bytes, dialect: Dialect, model: str, scope: str, canonical: bytes) -> str:
    """The store key: ``v1:`` and a hex SHA-256 of the parts joined by NUL bytes (Redis puts its
    ``key_prefix:`` before it)."""
    parts = (identity, _DIALECT_BYTES[dialect], model.encode(), scope.encode(), canonical)
    return _KEY_PREFIX + hashlib.sha256(b"\0".join(parts)).hexdigest()


_KEY_PREFIX = KEY_VERSION + ":"
