"""The cache key: canonical bodies (key order, transport fields, stream flag), who may share an entry
(apps, passthrough keys), what makes a route's key space, and which requests are not cacheable."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict

from sidecar.dialects import Dialect

from .keys import BODY, cache_key, key_decision, route_plan


def test_key_is_the_same_in_every_process() -> None:
    """The key is a BLAKE2b of bytes (no ``hash()``, no dict order): this request's key is fixed, so
    sidecars share entries across restarts. A change here must bump KEY_VERSION."""
    assert cache_key(BODY) == "v3:f0756f244270092af99f6e8ec7e08cdd4eaea509d5539e21cfb32fa308ec68ed"


KNOWN_KEYS: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "floats": (
        {**BODY, "temperature": 0.2, "top_p": 1.0, "presence_penalty": -2.0, "seed": 7, "big": 1e300},
        {},
        "v3:0ed424382cd406c5e12ed913aa8fb09bcb752255a7ea3ceb1027435cc9541b2d",
    ),
    "transport and tools": (
        {**BODY, "stream": True, "user": "u", "max_tokens": 64,
         "tools": [{"type": "function", "function": {"name": "f", "parameters": {"b": 1.0, "a": [2.0]}}}]},
        {},
        "v3:f4e369a4a5d9e78232171a2164609efe2bcff34b406c4953cd06dd4131f6283f",
    ),
    "anthropic with betas": (
        {"messages": BODY["messages"], "temperature": 0.0, "max_tokens": 10, "system": "s", "stream": True},
        {"dialect": Dialect.ANTHROPIC, "headers": {"anthropic-beta": "b2, b1"}},
        "v3:116eeceda535ffe05a8414c41209acf7108640df514c29f35155e2175900e750",
    ),
    "gemini sampling": (
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
         "generationConfig": {"temperature": 0.0, "topP": 0.5, "maxOutputTokens": 9.0}},
        {"dialect": Dialect.GEMINI},
        "v3:1fa0471884d3f4b9d299513cf10982f4b3c5f2d363737d0ac6cf6f66fd11900f",
    ),
    "passthrough key": (
        {**BODY},
        {"plan": "keyed", "model": "keyed", "caller_key": "sk-x"},
        "v3:f2b0fc2d98b9194340c93df46f9d072d021183a212c4e47efe20373a8b93515a",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(KNOWN_KEYS))
def test_known_requests_keep_their_keys(case: str) -> None:
    """Requests of each dialect, with fractional, whole and huge floats, transport fields, tools, answer
    headers, nested sampling fields and a passthrough key, have the keys they had at 2026-12-07's
    ``cb81a739``: a change of how a key is made that changes none of its bytes keeps a running fleet's entries."""
    body, options, key = KNOWN_KEYS[case]
    if "plan" in options:
        options = {**options, "plan": route_plan(options["plan"], share_across_apps=True)}
    assert cache_key(body, **options) == key


def test_json_key_order_does_not_change_the_key() -> None:
    """Two bodies with the same fields in another order, at every depth, have one key."""
    reordered = {"temperature": 0, "messages": [{"content": "Classify: invoice", "role": "user"}], "model": "gpt"}
    assert cache_key(BODY) == cache_key(reordered)


def test_stream_and_whole_requests_share_a_key() -> None:
    """``stream`` and ``stream_options`` are transport: a streamed request finds a whole answer's entry."""
    streamed = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    assert cache_key(BODY) == cache_key(streamed)


def test_transport_fields_do_not_change_the_key() -> None:
    """``user``, ``metadata``, ``store: false`` and ``service_tier`` do not change the answer, so not the key."""
    tracked = {**BODY, "user": "u-42", "metadata": {"request": "r-9"}, "store": False, "service_tier": "flex"}
    assert cache_key(BODY) == cache_key(tracked)


def test_whole_floats_are_integers() -> None:
    """``temperature: 0`` and ``temperature: 0.0`` are one key."""
    assert cache_key(BODY) == cache_key({**BODY, "temperature": 0.0})


def test_content_and_sampling_change_the_key() -> None:
    """Another prompt, or another output limit, is another key."""
    other = {**BODY, "messages": [{"role": "user", "content": "Classify: receipt"}]}
    limited = {**BODY, "max_tokens": 5}
    assert len({cache_key(BODY), cache_key(other), cache_key(limited)}) == 3


def test_two_apps_never_share_an_entry_by_default() -> None:
    """The same request from two apps has two keys."""
    assert cache_key(BODY, app="web") != cache_key(BODY, app="billing")


def test_apps_share_when_the_route_says_so() -> None:
    """With ``share_across_apps`` the same request from two apps has one key."""
    shared = route_plan(share_across_apps=True)
    assert cache_key(BODY, plan=shared, app="web") == cache_key(BODY, plan=shared, app="billing")


def test_passthrough_keys_scope_entries_even_when_shared() -> None:
    """On a route that forwards the caller's key, two callers' keys never share an entry."""
    keyed = route_plan("keyed", share_across_apps=True)
    first = cache_key(BODY, plan=keyed, model="keyed", caller_key="sk-alice")
    second = cache_key(BODY, plan=keyed, model="keyed", caller_key="sk-bob")
    assert first is not None and second is not None and first != second
    assert cache_key(BODY, plan=keyed, model="keyed", caller_key="sk-alice") == first
    assert "sk-alice" not in first


def test_route_chain_dialect_and_model_are_in_the_key() -> None:
    """Another route (or the same targets in another order), another dialect or model: another key."""
    keys = {
        cache_key(BODY),
        cache_key(BODY, plan=route_plan("chat-reordered")),
        cache_key(BODY, model="gpt-4o-mini"),
        cache_key({"messages": BODY["messages"], "temperature": 0, "max_tokens": 10}, dialect=Dialect.ANTHROPIC),
    }
    assert len(keys) == 4


def test_nondeterministic_requests_are_not_cached_by_default() -> None:
    """Under ``cacheable: deterministic`` only temperature 0 or a seed makes a request cacheable."""
    assert cache_key({**BODY, "temperature": 0.7}) is None
    assert cache_key({k: v for k, v in BODY.items() if k != "temperature"}) is None
    assert cache_key({**BODY, "temperature": 0.7, "seed": 7}) is not None
    assert cache_key({**BODY, "temperature": False}) is None  # a bool is not the number 0
    assert cache_key({**BODY, "temperature": 0.7, "seed": True}) is None


def test_always_caches_any_temperature() -> None:
    """Under ``cacheable: always`` a request with a sampling temperature is cached too."""
    assert cache_key({**BODY, "temperature": 0.7}, plan=route_plan(cacheable="always")) is not None


def test_gemini_temperature_is_read_from_generation_config() -> None:
    """A Gemini request is deterministic through ``generationConfig.temperature``; 0 and 0.0 are one key."""
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"temperature": 0}}
    key = cache_key(body, dialect=Dialect.GEMINI)
    assert key is not None
    assert key == cache_key({**body, "generationConfig": {"temperature": 0.0}}, dialect=Dialect.GEMINI)
    assert cache_key({**body, "generationConfig": {"temperature": 1}}, dialect=Dialect.GEMINI) is None


@pytest.mark.parametrize(
    ("dialect", "extra", "reason"),
    [
        (Dialect.OPENAI, {"logprobs": True}, "logprobs"),
        (Dialect.OPENAI, {"n": 3}, "n"),
        (Dialect.OPENAI, {"functions": [{"name": "f"}]}, "functions"),
        (Dialect.OPENAI, {"audio": {"voice": "alloy", "format": "mp3"}}, "audio"),
        (Dialect.OPENAI, {"modalities": ["text", "audio"]}, "modalities"),
        (Dialect.OPENAI, {"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools"),
        (Dialect.OPENAI, {"store": True, "metadata": {"run": "eval-7"}}, "store"),
        (Dialect.ANTHROPIC, {"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools"),
        (Dialect.ANTHROPIC, {"mcp_servers": [{"type": "url", "url": "https://x"}]}, "mcp_servers"),
        (Dialect.GEMINI, {"tools": [{"googleSearch": {}}]}, "tools"),
        (Dialect.GEMINI, {"generationConfig": {"temperature": 0, "candidateCount": 2}}, "candidateCount"),
    ],
)
def test_requests_for_output_the_cache_cannot_keep_are_not_cached(
    dialect: Dialect, extra: dict[str, Any], reason: str
) -> None:
    """Log probabilities, several choices, audio, server-side tools, grounding, an OpenAI completion the
    provider is asked to keep (``store: true``: a hit's id would name no stored completion): not cacheable,
    even always."""
    base: dict[str, Any] = (
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"temperature": 0}}
        if dialect is Dialect.GEMINI
        else {"messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    )
    decision = key_decision({**base, **extra}, plan=route_plan(cacheable="always"), dialect=dialect)
    assert (decision.key, decision.reason) == (None, reason)


def test_anthropic_citations_are_not_cached() -> None:
    """A request whose documents ask for citations is not cacheable (citation blocks are not kept)."""
    raw = b'{"messages":[{"role":"user","content":[{"type":"document","citations":{"enabled":true}}]}]}'
    body = {"messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    assert cache_key(body, dialect=Dialect.ANTHROPIC, raw=raw) is None


ANTHROPIC = {"model": "claude", "max_tokens": 100, "temperature": 0, "messages": [{"role": "user", "content": "Hi"}]}


def test_anthropic_beta_headers_are_in_the_key() -> None:
    """An Anthropic request's ``anthropic-beta`` reaches the provider and changes the answer (interleaved
    thinking...): another beta is another key; the betas' order, spaces and repeated lines are not."""

    def key(**headers: Any) -> str | None:
        return cache_key(ANTHROPIC, dialect=Dialect.ANTHROPIC, headers=CIMultiDict(headers))

    plain = key()
    interleaved = key(**{"anthropic-beta": "interleaved-thinking-2025-05-14"})
    both = key(**{"anthropic-beta": "interleaved-thinking-2025-05-14, context-1m-2025-08-07"})
    lines = CIMultiDict(
        [("anthropic-beta", "context-1m-2025-08-07"), ("anthropic-beta", "interleaved-thinking-2025-05-14")]
    )
    assert len({plain, interleaved, both}) == 3
    assert cache_key(ANTHROPIC, dialect=Dialect.ANTHROPIC, headers=lines) == both


def test_only_an_anthropic_version_other_than_the_sidecars_is_in_the_key() -> None:
    """The sidecar sends ``anthropic-version: 2023-06-01`` when the app sends none: the two are one key
    (and the key it had before headers counted); another version is another key."""
    plain = cache_key(ANTHROPIC, dialect=Dialect.ANTHROPIC)
    assert cache_key(ANTHROPIC, dialect=Dialect.ANTHROPIC, headers={"anthropic-version": "2023-06-01"}) == plain
    assert cache_key(ANTHROPIC, dialect=Dialect.ANTHROPIC, headers={"anthropic-version": "2023-01-01"}) != plain


def test_a_key_from_the_route_s_started_hash_is_the_key_of_its_identity() -> None:
    """``cache_key`` with the route's BLAKE2b started at policy load (``started_key``, copied) gives the key
    made from its identity bytes, with and without the extra part, and leaves the started hash as it was."""
    from sidecar.cache.key import cache_key as store_key
    from sidecar.cache.key import started_key

    identity = b"route\0p/up#\0error"
    started = started_key(identity)
    before = started.hexdigest()
    for extra in (b"", b'{"anthropic-beta":["b"]}'):
        parts = (Dialect.ANTHROPIC, "m", "shared", b'{"a":1}', extra)
        assert store_key(identity, *parts, started=started) == store_key(identity, *parts)
    assert started.hexdigest() == before
