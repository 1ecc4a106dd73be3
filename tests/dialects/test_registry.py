"""The registry: one object per dialect and per provider kind, and the questions asked of all of them."""

from __future__ import annotations

import pytest

from sidecar.dialects import Dialect, Operation, ProviderKind, registry


def test_every_dialect_and_every_provider_kind_has_its_own_object() -> None:
    """Each dialect and provider kind the registry lists maps to an object that says it is that one."""
    assert {d: registry.wire(d).dialect for d in registry.DIALECTS} == {d: d for d in registry.DIALECTS}
    assert {k: registry.provider_api(k).kind for k in registry.PROVIDER_KINDS} == {
        k: k for k in registry.PROVIDER_KINDS
    }


@pytest.mark.parametrize(
    ("kind", "caller", "speaks", "expected"),
    [
        (ProviderKind.OPENAI, Dialect.GEMINI, None, Dialect.OPENAI),
        (ProviderKind.AZURE_OPENAI, Dialect.ANTHROPIC, None, Dialect.OPENAI),
        (ProviderKind.ANTHROPIC, Dialect.OPENAI, None, Dialect.ANTHROPIC),
        (ProviderKind.GEMINI, Dialect.OPENAI, None, Dialect.GEMINI),
        (ProviderKind.FAKE, Dialect.GEMINI, None, Dialect.GEMINI),
        (ProviderKind.FAKE, Dialect.GEMINI, Dialect.ANTHROPIC, Dialect.ANTHROPIC),
    ],
)
def test_a_provider_kind_names_the_dialect_it_is_spoken_to_in(
    kind: ProviderKind, caller: Dialect, speaks: Dialect | None, expected: Dialect
) -> None:
    """A real provider speaks its own dialect; the fake speaks the caller's, or the one the policy names."""
    assert registry.provider_api(kind).wire(caller, speaks) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/chat/completions", "/v1/chat/completions"),
        ("/openai/deployments/prod/embeddings", "/openai/deployments/{model}/embeddings"),
        ("/v1/messages/count_tokens", "/v1/messages/count_tokens"),
        ("/v1beta/models/gemini-2.5-pro:generateContent", "/v1beta/models/{tail}"),
        ("/v1/models/gemini-x:embedContent", "/v1/models/{tail}"),
    ],
)
def test_find_endpoint_gives_the_route_template_serving_a_path(path: str, expected: str) -> None:
    """A served path is found with the template the router registers for it."""
    found = registry.find_endpoint(path)
    assert found is not None and found[0].path == expected


@pytest.mark.parametrize("path", ["/v2/chat", "/openai/deployments//chat/completions", "/v1beta/models/a/b:x"])
def test_find_endpoint_is_none_for_a_path_no_dialect_serves(path: str) -> None:
    """Unknown paths, and a path parameter that is empty or spans segments, match no endpoint."""
    assert registry.find_endpoint(path) is None


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        ("/v1beta/cachedContents", None, Dialect.GEMINI),
        ("/v1/messages/batches", None, Dialect.ANTHROPIC),
        ("/v1/whatever", {"anthropic-version": "2023-06-01"}, Dialect.ANTHROPIC),
        ("/v1/assistants", None, Dialect.OPENAI),
        ("/v1/models/x:streamGenerateContent", None, Dialect.GEMINI),  # a Gemini method under /v1, no header
        ("/v1/models/x:countTokens", None, Dialect.GEMINI),
        ("/v1/models/x:embedContent", None, Dialect.GEMINI),
        ("/v1/models/x:batchEmbedContents", None, Dialect.GEMINI),
        ("/v1/models/llama3:8b", None, Dialect.OPENAI),  # a colon alone is no Gemini method
        ("/nowhere", None, Dialect.OPENAI),
    ],
)
def test_an_unknown_path_gets_the_dialect_it_looks_like(
    path: str, headers: dict[str, str] | None, expected: Dialect
) -> None:
    """Gemini's prefixes and method paths (``x:countTokens`` under any version), then Anthropic's path or
    header, claim a 404; anything else is OpenAI's."""
    assert registry.dialect_of_path(path, headers) is expected


@pytest.mark.parametrize(
    ("dialect", "inner"),
    [(Dialect.OPENAI, "message"), (Dialect.ANTHROPIC, "message"), (Dialect.GEMINI, "message")],
)
def test_every_dialect_error_body_carries_the_message(dialect: Dialect, inner: str) -> None:
    """error_body puts the message where each dialect's SDK reads it (under ``error``)."""
    assert registry.error_body(dialect, 503, "busy")["error"][inner] == "busy"


@pytest.mark.parametrize("dialect", registry.DIALECTS)
def test_every_dialect_raises_on_its_own_error_event(dialect: Dialect) -> None:
    """The error event a dialect's object makes is one its SDK raises on as it is."""
    wire = registry.wire(dialect)
    assert wire.error_event_raises(wire.translation.error_event(429, "slow down"))


def test_operations_a_dialect_has_no_path_for_are_refused() -> None:
    """The Responses API has no Anthropic or Gemini path: NoEquivalentOperation, not a guess."""
    from sidecar.dialects.base import NoEquivalentOperation

    for dialect in (Dialect.ANTHROPIC, Dialect.GEMINI):
        with pytest.raises(NoEquivalentOperation):
            registry.wire(dialect).upstream_path(Operation.RESPONSES, "m", stream=False, method="", body={})


def test_every_endpoint_has_a_feature_walker_from_its_dialect() -> None:
    """Routing's features of every endpoint's requests come from a walker its dialect's package lists."""
    for endpoint in registry.ENDPOINTS:
        walker = registry.feature_walker(endpoint.dialect, endpoint.operation)
        assert walker is registry.wire(endpoint.dialect).feature_walkers[endpoint.operation]
