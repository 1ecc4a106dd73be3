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
    MEDIA_MARKERS,
    WALK_MARKERS,
    asks_hour_writes,
    byte_estimate,
    estimate_request,
    needs_walk,
    searches_asked,
    walk_markers,
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


DATA = "data:image/png;base64," + "A" * 400
MEDIA_PARTS: dict[Dialect, list[tuple[Operation, dict[str, Any]]]] = {
    Dialect.OPENAI: [
        (Operation.CHAT, {"messages": [{"role": "user", "content": [part]}]})
        for part in (
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            {"type": "file", "file": {"file_id": "file-1"}},
        )
    ]
    + [
        (Operation.RESPONSES, {"input": [{"role": "user", "content": [part]}]})
        for part in (
            {"type": "input_image", "image_url": DATA},
            {"type": "input_file", "file_data": "data:application/pdf;base64,AAAA"},
        )
    ],
    Dialect.ANTHROPIC: [
        (Operation.CHAT, {"max_tokens": 9, "messages": [{"role": "user", "content": [block]}]})
        for block in (
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "AAAA"}},
            {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image", "source": {"type": "file"}}]},
        )
    ],
    Dialect.GEMINI: [
        (Operation.GENERATE_CONTENT, {"contents": [{"role": "user", "parts": [part]}]})
        for part in (
            {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
            {"inline_data": {"mime_type": "audio/wav", "data": "AAAA"}},
            {"fileData": {"mimeType": "video/mp4", "fileUri": "gs://b/v.mp4"}},
            {"file_data": {"mime_type": "application/pdf", "file_uri": "gs://b/d.pdf"}},
        )
    ],
}


def test_every_media_part_a_walker_counts_sends_its_body_to_the_walk() -> None:
    """Each kind of media part the dialect's walker counts (image, audio, file, document; by URL or
    inline) names one of the dialect's MEDIA_MARKERS, so the body is walked and the media counted at
    their fixed costs, never weighed by their bytes."""
    assert set(MEDIA_PARTS) == set(MEDIA_MARKERS)
    for dialect, shapes in MEDIA_PARTS.items():
        for operation, body in shapes:
            request = facts(body, dialect, operation)
            tokens, _ = estimate_request(request, orjson.dumps(body))
            features = request.known_features
            assert features is not None, (dialect, body)
            assert features.images + features.audio + features.video + features.files == 1, (dialect, body)
            assert tokens == features.prompt_tokens


def test_another_dialects_media_words_keep_the_byte_estimate() -> None:
    """An OpenAI chat whose text says "video", "document", "inline" or "data:" (media words of other
    dialects, no media part of its own) is weighed by its bytes: its walker would count no media."""
    for word in ("video", "document", "inline", "data:"):
        body = {"model": "m", "messages": [{"role": "user", "content": f"Summarise the {word} below."}]}
        raw = orjson.dumps(body)
        request = facts(body)
        assert estimate_request(request, raw)[0] == byte_estimate(raw, Dialect.OPENAI), word
        assert request.known_features is None, word


def test_a_dialect_without_media_markers_is_walked_on_every_marker() -> None:
    """A newly added dialect (not in MEDIA_MARKERS) sends a body naming any of WALK_MARKERS to the walk;
    a listed one its own media markers and the escape."""
    toy = cast(Dialect, "toy")
    assert walk_markers(toy) == WALK_MARKERS
    plain = b'{"messages":[{"role":"user","content":"Say hello"}]}'
    assert not needs_walk(plain, toy)
    for marker in WALK_MARKERS:
        assert needs_walk(plain[:30] + marker + plain[30:], toy), marker
    assert walk_markers(Dialect.GEMINI) == (b"inline", b"file", b"\\u")


def test_only_an_anthropic_cache_control_of_one_hour_asks_for_hour_writes() -> None:
    """An Anthropic body whose ``cache_control`` names ``ttl: "1h"`` (spaced or not) asks for 1-hour cache
    writes; one of 5 minutes, one whose text merely says "1h", or another dialect's body does not."""

    def asks(body: dict[str, Any], dialect: Dialect = Dialect.ANTHROPIC, raw: bytes | None = None) -> bool:
        return asks_hour_writes(facts(body, dialect), orjson.dumps(body) if raw is None else raw)

    def system(ttl: str) -> dict[str, Any]:
        block = {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral", "ttl": ttl}}
        return {**CHAT, "system": [block]}

    assert asks(system("1h"))
    assert asks(system("1h"), raw=json.dumps(system("1h")).encode())  # spaces after the colons
    assert not asks(system("5m"))
    assert not asks({**CHAT, "messages": [{"role": "user", "content": 'wait "1h" then retry'}]})
    assert not asks(system("1h"), Dialect.OPENAI)


def test_the_searches_a_request_allows_are_its_search_tools_bound_or_the_default() -> None:
    """Anthropic's ``web_search`` tool allows its ``max_uses`` (default 7 without); OpenAI Responses'
    ``web_search`` tool the body's ``max_tool_calls`` (7 without); a chat body's ``web_search_options`` one;
    Gemini's ``google_search`` (or ``googleSearch``) tool 7; a body without a search tool, or whose text
    merely says web_search, none."""

    def allowed(body: dict[str, Any], dialect: Dialect, operation: Operation = Operation.CHAT) -> int:
        return searches_asked(facts(body, dialect, operation), orjson.dumps(body), 7)

    tool = {"type": "web_search_20250305", "name": "web_search"}
    assert allowed({**CHAT, "tools": [{**tool, "max_uses": 3}]}, Dialect.ANTHROPIC) == 3
    assert allowed({**CHAT, "tools": [tool]}, Dialect.ANTHROPIC) == 7
    assert allowed({**CHAT, "tools": [{"name": "web_search", "input_schema": {}}]}, Dialect.ANTHROPIC) == 0
    responses = {"model": "m", "input": "hi", "tools": [{"type": "web_search_preview"}]}
    assert allowed(responses, Dialect.OPENAI, Operation.RESPONSES) == 7
    assert allowed({**responses, "max_tool_calls": 2}, Dialect.OPENAI, Operation.RESPONSES) == 2
    assert allowed({**CHAT, "web_search_options": {}}, Dialect.OPENAI) == 1
    assert allowed({**CHAT, "tools": [{"type": "web_search"}]}, Dialect.OPENAI) == 0  # not a chat tool
    contents = {"contents": [{"parts": [{"text": "hi"}]}]}
    assert allowed({**contents, "tools": [{"google_search": {}}]}, Dialect.GEMINI) == 7
    assert allowed({**contents, "tools": [{"googleSearch": {}}, {"codeExecution": {}}]}, Dialect.GEMINI) == 7
    assert allowed({**CHAT, "messages": [{"role": "user", "content": "use web_search"}]}, Dialect.ANTHROPIC) == 0
