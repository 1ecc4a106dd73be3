"""The reservation's view of a request (budgets.estimate): the byte estimate, the features when routing
already has them or the body may carry media, and the output maximum of each dialect."""

from __future__ import annotations

import json
import math
from typing import Any, cast

import orjson

from sidecar.budgets.estimate import (
    BYTES_PER_TOKEN,
    DEFAULT_BYTES_PER_TOKEN,
    WALK_MARKERS,
    byte_estimate,
    estimate_request,
    needs_walk,
)
from sidecar.dialects import Dialect, Operation
from sidecar.request_facts import RequestFacts
from sidecar.routing.features import IMAGE_TOKENS


def facts(
    body: dict[str, Any], dialect: Dialect = Dialect.OPENAI, operation: Operation = Operation.CHAT
) -> RequestFacts:
    return RequestFacts(dialect, operation, "m", {}, "app", body=body)


CHAT = {"model": "m", "messages": [{"role": "user", "content": "Say hello in one short sentence."}], "max_tokens": 64}


def test_a_text_body_is_estimated_from_its_length() -> None:
    """Without features, the prompt is the body's bytes (its digits thrice) over the dialect's bytes per
    token, rounded up, and nothing walks the body."""
    raw = orjson.dumps(CHAT)
    request = facts(CHAT)
    tokens, output = estimate_request(request, raw)
    assert tokens == math.ceil((len(raw) + 2 * 2) / BYTES_PER_TOKEN[Dialect.OPENAI]) and output == 64  # "64"
    assert request.known_features is None


def test_the_features_routing_computed_are_reused() -> None:
    """When routing already read the features, their (precise) estimate is the one reserved."""
    request = facts(CHAT)
    features = request.features
    assert estimate_request(request, orjson.dumps(CHAT)) == (features.prompt_tokens, 64)


def test_a_body_with_an_image_is_estimated_by_the_features() -> None:
    """A body naming media is walked: an image counts its fixed tokens, not its (base64) bytes."""
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 40_000}}
    body = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, image]}]}
    tokens, _ = estimate_request(facts(body), orjson.dumps(body))
    assert IMAGE_TOKENS <= tokens < IMAGE_TOKENS + 50


def test_openai_prefers_max_completion_tokens() -> None:
    """An OpenAI chat's output maximum is max_completion_tokens when set, as the routing features read it."""
    body = {**CHAT, "max_completion_tokens": 99}
    assert estimate_request(facts(body), orjson.dumps(body))[1] == 99


def test_responses_read_max_output_tokens() -> None:
    """The Responses API's output maximum is its max_output_tokens."""
    body = {"model": "m", "input": "hi", "max_output_tokens": 77}
    assert estimate_request(facts(body, operation=Operation.RESPONSES), orjson.dumps(body))[1] == 77


def test_gemini_reads_the_generation_config() -> None:
    """Gemini's output maximum is generationConfig.maxOutputTokens, and its bytes weigh less per token."""
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 55}}
    raw = orjson.dumps(body)
    tokens, output = estimate_request(facts(body, Dialect.GEMINI, Operation.GENERATE_CONTENT), raw)
    assert (tokens, output) == (math.ceil((len(raw) + 2 * 2) / BYTES_PER_TOKEN[Dialect.GEMINI]), 55)  # "55"


def test_an_output_maximum_that_is_not_a_positive_integer_is_none() -> None:
    """max_tokens: true, 0 or "64" is no maximum (the model's or the budgets' default applies)."""
    for value in (True, 0, "64"):
        body = {**CHAT, "max_tokens": value}
        assert estimate_request(facts(body), orjson.dumps(body))[1] is None


def test_a_body_with_escaped_non_ascii_text_is_estimated_by_the_features() -> None:
    """A body whose SDK escaped its non-ASCII text (6 bytes a character) is walked, not weighed by bytes."""
    body = {"model": "m", "messages": [{"role": "user", "content": "中文的句子" * 40}]}
    raw = json.dumps(body).encode()  # ensure_ascii: "\\u4e2d..."
    request = facts(body)
    tokens, _ = estimate_request(request, raw)
    assert request.known_features is not None and tokens == request.features.prompt_tokens


def test_a_dialect_the_table_does_not_list_gets_the_default_rate() -> None:
    """A newly added dialect (not in ``BYTES_PER_TOKEN``) is estimated at the default bytes per token,
    not refused with a KeyError that would fail its budgeted requests."""
    raw = b"x" * 360
    assert byte_estimate(raw, cast(Dialect, "toy")) == math.ceil(360 / DEFAULT_BYTES_PER_TOKEN)


def test_every_walk_marker_and_only_those_send_a_body_to_the_walk() -> None:
    """needs_walk finds each of WALK_MARKERS anywhere in a body, non-ASCII bytes around it included,
    and none in a body without them."""
    plain = '{"messages":[{"role":"user","content":"Say hello to the café"}]}'.encode()
    assert not needs_walk(plain)
    for marker in WALK_MARKERS:
        assert needs_walk(plain[:30] + marker + plain[30:]), marker
