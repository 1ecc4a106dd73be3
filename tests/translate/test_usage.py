"""extract_usage, extract_stream_usage and extract_request_params, for cost and telemetry."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields, replace
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.dialects import Dialect
from sidecar.sse import SSEEvent
from sidecar.translate import (
    RequestParams,
    Usage,
    extract_request_params,
    extract_stream_usage,
    extract_usage,
)

from . import sdk
from .responses import BODIES
from .streams import UPSTREAM

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (OAI, Usage(82, 41, 64, 0, 10, service_tier="default")),
        (ANT, Usage(82, 41, 64, 6, 0, service_tier="standard")),
        (GEM, Usage(82, 41, 64, 0, 10)),
    ],
)
def test_extract_usage(dialect: Dialect, expected: Usage) -> None:
    """Usage of a non-stream response, input counting cached and cache-written tokens, with the service tier
    the provider says it served the call at (OpenAI's beside the usage, Anthropic's in it)."""
    assert extract_usage(dialect, BODIES[dialect]("text")) == expected


def test_extract_usage_absent_or_embeddings() -> None:
    """No usage gives None; embeddings usage gives input tokens."""
    assert extract_usage(OAI, {"choices": []}) is None
    assert extract_usage(GEM, {"candidates": []}) is None
    assert extract_usage(OAI, {"data": [], "usage": {"prompt_tokens": 5, "total_tokens": 5}}) == Usage(input_tokens=5)


RESPONSES_USAGE = {
    "input_tokens": 82,
    "input_tokens_details": {"cached_tokens": 64},
    "output_tokens": 41,
    "output_tokens_details": {"reasoning_tokens": 10},
    "total_tokens": 123,
}


def test_extract_usage_of_the_responses_api() -> None:
    """A Responses API answer's usage, in that API's names, reads as the chat completion's would: cached
    tokens a part of the input, reasoning tokens a part of the output."""
    body = {"object": "response", "output": [], "usage": RESPONSES_USAGE}
    assert extract_usage(OAI, body) == Usage(82, 41, 64, 0, 10)


@pytest.mark.parametrize(
    "body",
    [
        {"choices": [], "usage": {"prompt_tokens": 82, "completion_tokens": 41, "prompt_tokens_details": {}}},
        {"object": "response", "output": [], "usage": {**RESPONSES_USAGE, "input_tokens_details": {}}},
    ],
    ids=["chat", "responses"],
)
def test_openai_cache_writes_are_a_part_of_the_input(body: dict[str, Any]) -> None:
    """``cache_write_tokens`` in OpenAI's input details (openai 3.63: chat's ``prompt_tokens_details``, the
    Responses API's ``input_tokens_details``) are the prompt tokens written to the cache, priced and logged
    as Anthropic's are; before 2026-12-06 they were read as fresh input."""
    details = "prompt_tokens_details" if "choices" in body else "input_tokens_details"
    body["usage"][details] = {"cached_tokens": 30, "cache_write_tokens": 20}
    usage = extract_usage(OAI, body)
    assert usage is not None
    assert (usage.input_tokens, usage.cached_input_tokens, usage.cache_write_tokens) == (82, 30, 20)


def test_extract_stream_usage_of_the_responses_api() -> None:
    """A Responses API stream's usage is in its ``response.completed`` event's response; the events before
    it carry ``"usage": null``."""
    created = {"type": "response.created", "response": {"id": "r", "status": "in_progress", "usage": None}}
    completed = {"type": "response.completed", "response": {"id": "r", "status": "completed", "usage": RESPONSES_USAGE}}
    assert extract_stream_usage(OAI, SSEEvent(orjson.dumps(created), "response.created")) is None
    last = SSEEvent(orjson.dumps(completed), "response.completed")
    assert extract_stream_usage(OAI, last) == Usage(82, 41, 64, 0, 10)


# A provider that lies about its usage: counts that no call can have (negative, or more than a billion
# tokens: ``translate.common.MAX_REPORTED_TOKENS``) are read as not reported, so they can neither credit
# a budget nor overflow one.
LYING_USAGE = [
    (OAI, {"usage": {"prompt_tokens": -1_000_000, "completion_tokens": 7}}, Usage(0, 7)),
    (OAI, {"usage": {"prompt_tokens": 5, "completion_tokens": 2**64 - 1}}, Usage(5, 0)),
    (
        OAI,
        {"usage": {"prompt_tokens": 5, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": -4}}},
        Usage(5, 3),
    ),
    (
        ANT,
        {
            "usage": {
                "input_tokens": 2**64 - 1,
                "output_tokens": 3,
                "cache_read_input_tokens": 2**64 - 1,
                "cache_creation_input_tokens": 2**64 - 1,
            }
        },
        Usage(0, 3),
    ),
    (ANT, {"usage": {"input_tokens": 5, "output_tokens": -3}}, Usage(5, 0)),
    (
        GEM,
        {"usageMetadata": {"promptTokenCount": -9, "candidatesTokenCount": 4, "thoughtsTokenCount": -2}},
        Usage(0, 4),
    ),
    (GEM, {"usageMetadata": {"promptTokenCount": 1_000_000_001, "candidatesTokenCount": 4}}, Usage(0, 4)),
]


@pytest.mark.parametrize(("dialect", "body", "expected"), LYING_USAGE)
def test_impossible_token_counts_read_as_not_reported(dialect: Dialect, body: dict[str, Any], expected: Usage) -> None:
    """A negative count, or one past a billion tokens, reads as 0; the plausible fields are kept."""
    assert extract_usage(dialect, body) == expected


AUDIO_USAGE = [
    (
        OAI,
        {
            "usage": {
                "prompt_tokens": 90,
                "completion_tokens": 40,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 60},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 30},
            }
        },
    ),
    (
        GEM,
        {
            "usageMetadata": {
                "promptTokenCount": 90,
                "candidatesTokenCount": 40,
                "promptTokensDetails": [
                    {"modality": "TEXT", "tokenCount": 30},
                    {"modality": "AUDIO", "tokenCount": 60},
                ],
                "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 30}, {"modality": "TEXT"}],
            }
        },
    ),
]


@pytest.mark.parametrize(("dialect", "body"), AUDIO_USAGE)
def test_the_audio_parts_of_the_prompt_and_the_output_are_read(dialect: Dialect, body: dict[str, Any]) -> None:
    """OpenAI's ``audio_tokens`` in its input and output details, Gemini's ``AUDIO`` modality counts: the
    audio parts of the prompt and of the output, priced apart (``audio_input_per_mtok``)."""
    assert extract_usage(dialect, body) == Usage(90, 40, audio_input_tokens=60, audio_output_tokens=30)


def test_a_billion_tokens_is_still_a_count() -> None:
    """The bound itself is a count (a long-context batch may be large; only the absurd is dropped)."""
    body = {"usage": {"prompt_tokens": 1_000_000_000, "completion_tokens": 0}}
    assert extract_usage(OAI, body) == Usage(1_000_000_000, 0)


# Counts of another JSON type (a bool, a float, a string, null) in every field OpenAI's usage has, and
# details that are not objects: each reads as not reported (0), the integer counts beside them kept.
NOT_COUNTS: list[Any] = [True, False, 3.0, "3", None, [3], {"n": 3}]


@pytest.mark.parametrize("value", NOT_COUNTS)
@pytest.mark.parametrize(
    "names",
    [
        ("prompt_tokens", "prompt_tokens_details", "completion_tokens", "completion_tokens_details"),
        ("input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details"),
    ],
)
def test_an_openai_count_that_is_not_an_integer_reads_as_not_reported(value: Any, names: tuple[str, ...]) -> None:
    """A bool, float, string, null, list or object where OpenAI writes a token count (the input, the output,
    the cached, cache-written, reasoning and audio parts) reads as 0; the other counts are read as sent."""
    inputs, input_details, outputs, output_details = names
    prompt_details = {"cached_tokens": 4, "cache_write_tokens": 3, "audio_tokens": 2}
    output_details_sent = {"reasoning_tokens": 5, "audio_tokens": 1}
    whole = Usage(90, 40, 4, 3, 5, audio_input_tokens=2, audio_output_tokens=1)
    sent = {inputs: 90, outputs: 40, input_details: prompt_details, output_details: output_details_sent}
    assert extract_usage(OAI, {"usage": sent}) == whole
    for where, key, field in [
        (None, inputs, "input_tokens"),
        (None, outputs, "output_tokens"),
        (input_details, "cached_tokens", "cached_input_tokens"),
        (input_details, "cache_write_tokens", "cache_write_tokens"),
        (input_details, "audio_tokens", "audio_input_tokens"),
        (output_details, "reasoning_tokens", "reasoning_tokens"),
        (output_details, "audio_tokens", "audio_output_tokens"),
    ]:
        usage = orjson.loads(orjson.dumps(sent))
        (usage if where is None else usage[where])[key] = value
        assert extract_usage(OAI, {"usage": usage}) == replace(whole, **{field: 0}), (key, value)


@pytest.mark.parametrize("details", [[4], "4", 4, True])
def test_openai_usage_details_that_are_not_objects_are_not_read(details: Any) -> None:
    """``prompt_tokens_details`` or ``completion_tokens_details`` that is not an object (a list, a string,
    a number) counts no part; the input and output counts are read."""
    body = {"prompt_tokens": 9, "completion_tokens": 4}
    usage = {**body, "prompt_tokens_details": details, "completion_tokens_details": details}
    assert extract_usage(OAI, {"usage": usage}) == Usage(9, 4)


@pytest.mark.parametrize(
    ("dialect", "scenario", "expected"),
    [
        (OAI, "text", Usage(19, 7, 4)),
        (ANT, "text", Usage(19, 7, 4)),
        (GEM, "text", Usage(19, 21, 4, 0, 14)),
        (ANT, "tools", Usage(82, 41)),
    ],
)
def test_extract_stream_usage(dialect: Dialect, scenario: str, expected: Usage) -> None:
    """Merging the usage of a passthrough stream's events gives the stream's final usage."""
    total: Usage | None = None
    carriers = 0
    for event in sdk.events(UPSTREAM[(dialect.value, scenario)]):
        usage = extract_stream_usage(dialect, event, total)
        if usage is not None:
            carriers += 1
            total = usage
    assert total == expected
    assert carriers >= 1


def test_a_gemini_fragment_with_a_smaller_count_keeps_the_larger_one() -> None:
    """A stream's counts merge by maximum, field by field: a fragment whose output count (candidates and
    thoughts) is smaller than the last one's, and whose thoughts count is larger, leaves the stream with
    both larger counts; a fragment whose counts have all grown is the stream's usage as it came."""

    def fragment(candidates: int, thoughts: int) -> SSEEvent:
        metadata = {"promptTokenCount": 9, "candidatesTokenCount": candidates, "thoughtsTokenCount": thoughts}
        return SSEEvent(orjson.dumps({"candidates": [], "usageMetadata": metadata}))

    earlier = extract_stream_usage(GEM, fragment(6, 1))
    assert extract_stream_usage(GEM, fragment(2, 3), earlier) == Usage(9, 7, 0, 0, 3)
    grown = extract_stream_usage(GEM, fragment(8, 2), earlier)
    assert grown == extract_stream_usage(GEM, fragment(8, 2)) == Usage(9, 10, 0, 0, 2)


def anthropic_stream_usage(start: dict[str, Any], delta: dict[str, Any]) -> Usage | None:
    """The usage of an Anthropic stream whose ``message_start`` and ``message_delta`` say these counts."""
    opened = SSEEvent(orjson.dumps({"type": "message_start", "message": {"usage": start}}), "message_start")
    ended = SSEEvent(orjson.dumps({"type": "message_delta", "delta": {}, "usage": delta}), "message_delta")
    return extract_stream_usage(ANT, ended, extract_stream_usage(ANT, opened))


def test_an_anthropic_message_deltas_counts_replace_message_starts_smaller_ones_too() -> None:
    """Anthropic's ``message_delta`` counts are the totals so far: its ``output_tokens: 0`` after
    ``message_start``'s 1 is 0 (before 2026-12-06: 1, merged by maximum), and its cache counts replace."""
    start = {"input_tokens": 9, "output_tokens": 1, "cache_read_input_tokens": 4}
    delta = {"input_tokens": 9, "output_tokens": 0, "cache_read_input_tokens": 2}
    assert anthropic_stream_usage(start, delta) == Usage(11, 0, 2)


def test_counts_an_anthropic_message_delta_leaves_out_keep_message_starts() -> None:
    """A ``message_delta`` of ``output_tokens`` only (Anthropic's older streams) keeps the input and cache
    counts ``message_start`` gave, as the Anthropic SDKs' accumulators do (``null`` is left out too)."""
    start = {"input_tokens": 9, "output_tokens": 1, "cache_creation_input_tokens": 3}
    assert anthropic_stream_usage(start, {"output_tokens": 7, "input_tokens": None}) == Usage(12, 7, 0, 3)


def test_extract_stream_usage_skips_other_events() -> None:
    """Events without usage, and garbage, give None without raising."""
    assert extract_stream_usage(OAI, SSEEvent(b'{"choices":[],"usage":null}')) is None
    assert extract_stream_usage(OAI, SSEEvent(b"[DONE]")) is None
    assert extract_stream_usage(ANT, SSEEvent(b'{"type":"ping"}', "ping")) is None
    assert extract_stream_usage(GEM, SSEEvent(b'{"usageMetadata": oops')) is None


def test_request_params() -> None:
    """Generation parameters are read from each dialect's own fields."""
    assert extract_request_params(
        OAI,
        {
            "model": "gpt-4o",
            "max_completion_tokens": 9,
            "temperature": 0.5,
            "top_p": 1,
            "stop": "x",
            "n": 2,
            "seed": 1,
            "stream": True,
        },
    ) == RequestParams(
        model="gpt-4o",
        max_tokens=9,
        temperature=0.5,
        top_p=1.0,
        stop_sequences=("x",),
        seed=1,
        choice_count=2,
        stream=True,
    )
    assert extract_request_params(
        ANT, {"model": "claude", "max_tokens": 100, "top_k": 5, "stop_sequences": ["a", "b"]}
    ) == RequestParams(model="claude", max_tokens=100, top_k=5, stop_sequences=("a", "b"))
    assert extract_request_params(
        GEM,
        {
            "generationConfig": {
                "maxOutputTokens": 8,
                "topP": 0.5,
                "stopSequences": ["s"],
                "candidateCount": 1,
            }
        },
    ) == RequestParams(max_tokens=8, top_p=0.5, stop_sequences=("s",), choice_count=1)
    assert extract_request_params(GEM, {"generation_config": {"max_output_tokens": 3}}).max_tokens == 3
    assert extract_request_params(OAI, {"temperature": "hot", "max_tokens": True}) == RequestParams()


# What each body key means, per dialect, stated plainly: (RequestParams field, what the value must be).
_COUNT, _NUMBER, _FLAG, _STOPS = "count", "number", "flag", "stops"
_MEANING = {
    OAI: {
        "max_tokens": ("max_tokens", _COUNT),
        "temperature": ("temperature", _NUMBER),
        "top_p": ("top_p", _NUMBER),
        "top_k": ("top_k", _COUNT),
        "stop": ("stop_sequences", _STOPS),
        "frequency_penalty": ("frequency_penalty", _NUMBER),
        "presence_penalty": ("presence_penalty", _NUMBER),
        "seed": ("seed", _COUNT),
        "n": ("choice_count", _COUNT),
        "stream": ("stream", _FLAG),
    },
    ANT: {
        "max_tokens": ("max_tokens", _COUNT),
        "temperature": ("temperature", _NUMBER),
        "top_p": ("top_p", _NUMBER),
        "top_k": ("top_k", _COUNT),
        "stop_sequences": ("stop_sequences", _STOPS),
        "stream": ("stream", _FLAG),
    },
}


def _expected(dialect: Dialect, body: dict[str, Any]) -> RequestParams:
    fields: dict[str, Any] = {}
    for key, value in body.items():
        if key not in _MEANING[dialect]:
            continue
        name, kind = _MEANING[dialect][key]
        if kind == _COUNT and type(value) is int:
            fields[name] = value
        elif kind == _NUMBER and type(value) in (int, float):
            fields[name] = float(value)
        elif kind == _FLAG and type(value) is bool:
            fields[name] = value
        elif kind == _STOPS:
            if isinstance(value, str):
                fields[name] = (value,)
            elif isinstance(value, list):
                fields[name] = tuple(s for s in value if isinstance(s, str))
    newer = body.get("max_completion_tokens")
    if dialect is OAI and type(newer) is int:
        fields["max_tokens"] = newer
    model = body.get("model")
    return RequestParams(model=model if type(model) is str else None, **fields)


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.lists(st.one_of(st.text(max_size=3), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
_KEYS = st.sampled_from(["model", "max_completion_tokens", "messages", *_MEANING[OAI], *_MEANING[ANT]])


@settings(deadline=None)
@given(dialect=st.sampled_from([OAI, ANT]), body=st.dictionaries(_KEYS, _VALUES, max_size=8))
def test_request_params_take_only_values_of_the_right_type(dialect: Dialect, body: dict[str, Any]) -> None:
    """Every field holds exactly its type or its default: counts are ints (never a bool), numbers become
    floats, flags are bools, stops a tuple of the strings given; OpenAI's max_completion_tokens wins
    over max_tokens when it is a count; keys of the other dialect are ignored."""
    params = extract_request_params(dialect, body)
    assert params == _expected(dialect, body)
    assert [type(value) for value in params] == [type(value) for value in _expected(dialect, body)]


def test_usage_keeps_every_field_it_is_given_and_stays_frozen() -> None:
    """``Usage``'s written-out ``__init__`` (its fields stored as plain slots) keeps each field given, by
    position and by name, in the fields' order; defaults fill the rest; the instance is a ``Usage`` after it,
    refuses assignment and hashes by value."""
    names = [field.name for field in fields(Usage)]
    values = [f"tier-{i}" if name == "service_tier" else i + 1 for i, name in enumerate(names)]
    by_name, by_position = Usage(**dict(zip(names, values, strict=True))), Usage(*values)
    assert [getattr(by_name, name) for name in names] == values == [getattr(by_position, name) for name in names]
    assert Usage() == Usage(0, 0) and Usage().service_tier is None
    assert hash(by_name) == hash(by_position) and by_name == by_position
    assert type(by_name) is Usage and type(by_position) is Usage
    with pytest.raises(FrozenInstanceError):
        by_name.input_tokens = 3  # type: ignore[misc]
