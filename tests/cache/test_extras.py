"""The fields of a whole answer the common form does not carry (``cache.extras``): read from the
upstream's body by its dialect's list, bounded, put back only into a body of that dialect."""

from __future__ import annotations

from sidecar.cache.extras import MAX_CHARS, extras_of, with_extras
from sidecar.dialects import Dialect

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
    assert extras_of({"choices": []}, Dialect.OPENAI) is None
    assert extras_of({"system_fingerprint": "f" * MAX_CHARS}, Dialect.OPENAI) is None


def test_text_that_is_not_extras_is_ignored() -> None:
    """Damaged extras leave the built body as it is, never an exception."""
    body = {"usage": {"prompt_tokens": 1}}
    for damaged in ("not json", "[]", '["openai", 7]', '["openai", [[[], 1]]]', '["openai", [[["usage", 5], 1]]]'):
        assert with_extras(dict(body), damaged, Dialect.OPENAI) == body
