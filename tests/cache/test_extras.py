"""The fields of an answer the common form does not carry (``cache.extras``): read from the upstream's
body or stream events by its dialect's list, bounded, put back only into a body or stream of that
dialect."""

from __future__ import annotations

import orjson

from sidecar.cache.extras import (
    MAX_CHARS,
    extras_of,
    extras_of_stream,
    padding_of,
    with_extras,
    with_stream_extras,
    with_top_extras,
)
from sidecar.dialects import Dialect
from sidecar.translate.stream_out import frame, json_event

OPENAI_LIVE = {
    "id": "chatcmpl-1",
    "system_fingerprint": "fp_1",
    "service_tier": "default",
    "choices": [],
    "usage": {
        "prompt_tokens": 3,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "accepted_prediction_tokens": 0},
    },
}


def test_a_dialects_extras_are_put_back_where_the_live_answer_had_them() -> None:
    """OpenAI's fingerprint, tier and usage details (zeros included) go back into a built body, replacing
    the builder's shorter details; nothing else in the body changes."""
    extras = extras_of(OPENAI_LIVE, Dialect.OPENAI)
    built = {"id": "chatcmpl-2", "usage": {"prompt_tokens": 3, "prompt_tokens_details": {"cached_tokens": 0}}}
    assert with_extras(built, extras, Dialect.OPENAI) == {
        "id": "chatcmpl-2",
        "system_fingerprint": "fp_1",
        "service_tier": "default",
        "usage": {
            "prompt_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "accepted_prediction_tokens": 0},
        },
    }


def test_anthropic_and_gemini_keep_their_own_fields() -> None:
    """Anthropic's usage.cache_creation and service_tier; Gemini's token details by modality."""
    anthropic = extras_of(
        {"usage": {"input_tokens": 1, "cache_creation": {"ephemeral_5m_input_tokens": 0}, "service_tier": "standard"}},
        Dialect.ANTHROPIC,
    )
    assert with_extras({"usage": {"input_tokens": 1}}, anthropic, Dialect.ANTHROPIC)["usage"] == {
        "input_tokens": 1,
        "cache_creation": {"ephemeral_5m_input_tokens": 0},
        "service_tier": "standard",
    }
    details = [{"modality": "TEXT", "tokenCount": 12}]
    gemini = extras_of(
        {"usageMetadata": {"promptTokensDetails": details, "cachedContentTokenCount": 0}}, Dialect.GEMINI
    )
    assert with_extras({"usageMetadata": {}}, gemini, Dialect.GEMINI)["usageMetadata"] == {
        "cachedContentTokenCount": 0,
        "promptTokensDetails": details,
    }


def test_another_dialects_body_gets_none_of_them() -> None:
    """Extras of an OpenAI answer are not put into an Anthropic body (a translated answer has none)."""
    extras = extras_of(OPENAI_LIVE, Dialect.OPENAI)
    assert with_extras({"usage": {}}, extras, Dialect.ANTHROPIC) == {"usage": {}}


def test_an_answer_without_extras_or_with_too_many_keeps_none() -> None:
    """No listed field: None; more than MAX_CHARS of them: None (the hit goes without, as before)."""
    assert extras_of({"content": []}, Dialect.ANTHROPIC) is None
    assert extras_of({"system_fingerprint": "f" * MAX_CHARS}, Dialect.OPENAI) is None


def test_a_whole_openai_answer_notes_that_its_stream_is_padded() -> None:
    """A whole OpenAI answer, even one without a listed field, notes the padding (``obfuscation``) its live
    stream has by default; a stream notes it only when its first chunk had it."""
    assert padding_of(extras_of({"choices": []}, Dialect.OPENAI), Dialect.OPENAI) == "obfuscation"
    assert padding_of(extras_of_stream(({"choices": []}, {"usage": {}}), Dialect.OPENAI), Dialect.OPENAI) is None
    padded = ({"choices": [], "obfuscation": "x"}, {"usage": {}})
    assert padding_of(extras_of_stream(padded, Dialect.OPENAI), Dialect.OPENAI) == "obfuscation"


def test_text_that_is_not_extras_is_ignored() -> None:
    """Damaged extras leave the built body as it is, never an exception."""
    body = {"usage": {"prompt_tokens": 1}}
    for damaged in ("not json", "[]", '["openai", 7]', '["openai", [[[], 1]]]', '["openai", [[["usage", 5], 1]]]'):
        assert with_extras(dict(body), damaged, Dialect.OPENAI) == body


def test_a_streams_later_event_wins_and_every_chunk_gets_them_back() -> None:
    """Read from an OpenAI stream's first and usage chunks (the usage chunk's value kept where both have
    one), the extras go back on every chunk, the usage details on the usage chunk only; ``[DONE]`` as it
    was."""
    first = {"id": "c", "system_fingerprint": "fp_old", "choices": [], "usage": None, "obfuscation": "Qx"}
    extras = extras_of_stream((first, None, OPENAI_LIVE), Dialect.OPENAI)
    assert extras == extras_of(OPENAI_LIVE, Dialect.OPENAI)
    done = frame(b"[DONE]")
    events = [json_event({"id": "c", "choices": []}), json_event({"id": "c", "usage": {"prompt_tokens": 3}}), done]
    chunk, usage_chunk, end = with_stream_extras(events, extras, Dialect.OPENAI)
    (empty,) = with_stream_extras([json_event({})], extras, Dialect.OPENAI)
    assert orjson.loads(empty.data) == {"system_fingerprint": "fp_1", "service_tier": "default"}
    assert orjson.loads(chunk.data) == {
        "id": "c",
        "choices": [],
        "system_fingerprint": "fp_1",
        "service_tier": "default",
    }
    assert orjson.loads(usage_chunk.data)["usage"] == {
        "prompt_tokens": 3,
        **{k: v for k, v in OPENAI_LIVE["usage"].items() if k != "prompt_tokens"},
    }  # type: ignore[union-attr]
    assert end is done


def test_an_anthropic_replay_gets_them_in_message_start_only() -> None:
    """Anthropic's usage fields go into ``message_start``'s message; ``message_delta`` stays the encoder's."""
    extras = extras_of(
        {"usage": {"cache_creation": {"ephemeral_5m_input_tokens": 2}, "service_tier": "standard"}}, Dialect.ANTHROPIC
    )
    start = json_event({"type": "message_start", "message": {"usage": {"input_tokens": 1}}}, "message_start")
    delta = json_event({"type": "message_delta", "usage": {"output_tokens": 4}}, "message_delta")
    replayed = with_stream_extras([start, delta], extras, Dialect.ANTHROPIC)
    assert orjson.loads(replayed[0].data)["message"]["usage"] == {
        "input_tokens": 1,
        "cache_creation": {"ephemeral_5m_input_tokens": 2},
        "service_tier": "standard",
    }
    assert replayed[0].event == "message_start" and replayed[1] is delta
    assert with_stream_extras([start, delta], extras, Dialect.OPENAI) == [start, delta]  # another dialect's: none


def test_the_top_level_fields_added_to_a_streams_bytes_are_those_added_per_event() -> None:
    """``with_top_extras`` over the encoded stream (what a template is rendered with) gives the events
    ``with_stream_extras`` gives one by one: the fingerprint and tier in every chunk, once."""
    extras = extras_of(OPENAI_LIVE, Dialect.OPENAI)
    events = [
        json_event({"id": "c", "choices": [{"delta": {"content": "data: {"}}]}),
        json_event({"id": "c", "usage": {"prompt_tokens": 3}}),
        frame(b"[DONE]"),
    ]

    def parsed(stream: bytes) -> list[object]:
        return [orjson.loads(line[6:]) if line != b"data: [DONE]" else None for line in stream.split(b"\n\n") if line]

    per_event = b"".join(e.encode() for e in with_stream_extras(events, extras, Dialect.OPENAI))
    nested = with_stream_extras(events, extras, Dialect.OPENAI, top_level=False)
    assert parsed(with_top_extras(b"".join(e.encode() for e in nested), extras, Dialect.OPENAI)) == parsed(per_event)
    assert parsed(per_event)[0] == {
        "system_fingerprint": "fp_1",
        "service_tier": "default",
        "id": "c",
        "choices": [{"delta": {"content": "data: {"}}],
    }


def test_a_gemini_streams_first_usage_goes_on_each_replayed_fragment_without_usage() -> None:
    """A Gemini stream's first fragment's ``usageMetadata`` (the usage so far) goes on each replayed
    fragment that has none, a text that spells ``"usageMetadata":`` included; the last keeps its own,
    with the candidate's ``avgLogprobs``; written into the stream's bytes (``with_top_extras``), the same;
    a whole answer's extras give the usage so far its live stream would have: its prompt's counts."""
    so_far = {"promptTokenCount": 9, "totalTokenCount": 9}
    first = {"candidates": [{"content": {"parts": [{"text": "a"}]}}], "usageMetadata": so_far}
    last = {"candidates": [{"avgLogprobs": -0.5, "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 9}}
    extras = extras_of_stream((first, last), Dialect.GEMINI)
    fragments = [
        json_event({"candidates": [{"content": {"parts": [{"text": 'say "usageMetadata": 1'}]}}]}),
        json_event({"candidates": [{"finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 9}}),
    ]
    spelled, ending = (orjson.loads(e.data) for e in with_stream_extras(fragments, extras, Dialect.GEMINI))
    assert spelled["usageMetadata"] == so_far and spelled["candidates"][0]["content"]["parts"][0]["text"].startswith(
        "say"
    )
    assert ending == {
        "candidates": [{"finishReason": "STOP", "avgLogprobs": -0.5}],
        "usageMetadata": {"promptTokenCount": 9},
    }
    per_event = b"".join(e.encode() for e in with_stream_extras(fragments, extras, Dialect.GEMINI))
    held = with_stream_extras(fragments, extras, Dialect.GEMINI, top_level=False)
    assert with_top_extras(b"".join(e.encode() for e in held), extras, Dialect.GEMINI) == per_event  # in bytes
    whole = extras_of(last, Dialect.GEMINI)
    assert orjson.loads(with_stream_extras(fragments[:1], whole, Dialect.GEMINI)[0].data)["usageMetadata"] == {
        "promptTokenCount": 9,
        "totalTokenCount": 9,
    }
