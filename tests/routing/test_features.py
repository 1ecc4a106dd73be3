"""Routing's features of a request (``sidecar/routing/features.py``): the same in every dialect, windows,
and never an exception (the dialects' walkers are tested in ``tests/dialects/<dialect>/test_features.py``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.dialects import Dialect, Operation
from sidecar.dialects.registry import FEATURE_WALKERS
from sidecar.routing.features import FIELDS, RequestFeatures, Tally, extract_features, plain_chat


def openai(body: dict[str, Any]) -> RequestFeatures:
    return extract_features(body, Dialect.OPENAI, Operation.CHAT)


def responses(body: dict[str, Any]) -> RequestFeatures:
    return extract_features(body, Dialect.OPENAI, Operation.RESPONSES)


def anthropic(body: dict[str, Any]) -> RequestFeatures:
    return extract_features(body, Dialect.ANTHROPIC, Operation.CHAT)


def gemini(body: dict[str, Any], stream: bool = False) -> RequestFeatures:
    return extract_features(body, Dialect.GEMINI, Operation.GENERATE_CONTENT, stream=stream)


# --- all dialects ------------------------------------------------------------------------------------


def test_same_prompt_same_tokens_in_every_dialect() -> None:
    """The same system prompt and question estimate to the same prompt tokens in all four body shapes."""
    system, question = "You are a careful assistant.", "Explain the CAP theorem in two sentences."
    counts = {
        openai(
            {"messages": [{"role": "system", "content": system}, {"role": "user", "content": question}]}
        ).prompt_tokens,
        responses({"instructions": system, "input": question}).prompt_tokens,
        anthropic(
            {"system": system, "messages": [{"role": "user", "content": question}], "max_tokens": 9}
        ).prompt_tokens,
        gemini(
            {"systemInstruction": {"parts": [{"text": system}]}, "contents": [{"parts": [{"text": question}]}]}
        ).prompt_tokens,
    }
    assert len(counts) == 1


def test_long_texts_are_windowed() -> None:
    """Rules read the head and tail of a long last user message; its full length is still reported."""
    question = "Now: summarize the document above."
    text = "lorem ipsum " * 5000 + question
    f = openai({"messages": [{"role": "user", "content": text}]})
    assert f.last_user_chars == len(text)
    assert len(f.last_user_text) < 1600 and f.last_user_text.endswith(question)
    assert f.prompt_tokens > 9000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "messages",
                    "role",
                    "content",
                    "type",
                    "text",
                    "tools",
                    "tool_choice",
                    "contents",
                    "parts",
                    "input",
                    "system",
                    "max_tokens",
                    "generationConfig",
                    "inlineData",
                    "source",
                    "image_url",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "messages",
                "input",
                "contents",
                "system",
                "tools",
                "tool_choice",
                "instructions",
                "response_format",
                "text",
                "generationConfig",
                "max_tokens",
                "prompt",
            ]
        ),
        json_values,
        max_size=6,
    )
)
def test_any_json_body_gets_features_in_every_dialect(body: dict[str, Any]) -> None:
    """A malformed body never raises: every walker skips values of unexpected types."""
    for dialect, operation in [
        (Dialect.OPENAI, Operation.CHAT),
        (Dialect.OPENAI, Operation.RESPONSES),
        (Dialect.OPENAI, Operation.TEXT_COMPLETION),
        (Dialect.ANTHROPIC, Operation.CHAT),
        (Dialect.GEMINI, Operation.GENERATE_CONTENT),
    ]:
        assert extract_features(body, dialect, operation).prompt_tokens >= 0


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9},  # plain_chat's
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "tools": [{}]},  # the walker's
    ],
)
def test_features_are_a_record_of_every_field_by_name(body: dict[str, Any]) -> None:
    """Both builders' features are a ``RequestFeatures`` with every field set (each builder stores them on
    a blank), equal to one built by keyword from them (``as_dict``, in the fields' order); a changed copy
    changes one field."""
    built = extract_features(body, Dialect.OPENAI, Operation.CHAT)
    assert type(built) is RequestFeatures
    assert list(built.as_dict()) == list(FIELDS) == list(RequestFeatures.__slots__)
    assert built == RequestFeatures(**built.as_dict())
    changed = replace(built, max_output_tokens=3)
    assert (changed.max_output_tokens, built.max_output_tokens) == (3, body.get("max_tokens"))
    assert changed != built
    assert repr(built).startswith(f"RequestFeatures(prompt_tokens={built.prompt_tokens!r}, max_output_tokens=")


# --- the plain OpenAI chat body, read without a Tally ---------------------------------------------------

_TEXTS = st.one_of(
    st.sampled_from(["", "Hi.", "Say hello in one short sentence, please.", "Résumé 東京 😀 x" * 3]),
    st.text(max_size=40),
    st.integers(1, 3).map(lambda n: "A long pasted document. " * (60 * n)),  # over the windows
)
_MESSAGES = st.lists(
    st.fixed_dictionaries(
        {"content": st.one_of(_TEXTS, _TEXTS, st.none(), st.just([{"type": "text", "text": "part"}]))},
        optional={
            "role": st.sampled_from(["system", "developer", "user", "assistant", "tool", 7]),
            "tool_calls": st.just([{"function": {"name": "f", "arguments": "{}"}}]),
        },
    ),
    max_size=6,
)


def walked(body: dict[str, Any], stream: bool | None) -> RequestFeatures:
    """The features as the dialect's walker and ``Tally.features`` make them (no fast path)."""
    tally = Tally()
    FEATURE_WALKERS[(Dialect.OPENAI, Operation.CHAT)](body, tally)
    if stream is not None:
        tally.stream = stream
    return tally.features()


@settings(max_examples=400, deadline=None)
@given(
    body=st.fixed_dictionaries(
        {"messages": _MESSAGES},
        optional={
            "max_tokens": st.one_of(st.integers(-2, 5000), st.booleans()),
            "max_completion_tokens": st.integers(-2, 5000),
            "stream": st.one_of(st.booleans(), st.just("yes")),
            "tools": st.just([{"type": "function", "function": {"name": "f"}}]),
            "response_format": st.just({"type": "json_object"}),
        },
    ),
    stream=st.one_of(st.none(), st.booleans()),
)
def test_plain_chat_reads_what_the_walker_reads(body: dict[str, Any], stream: bool | None) -> None:
    """An OpenAI chat body read by plain_chat has the features the walker and Tally give it; plain_chat
    takes every body whose messages are objects with string content and no tool calls, and no other."""
    plain = all(
        type(m.get("content")) is str and "tool_calls" not in m for m in body["messages"]
    ) and not body.keys() & {"tools", "response_format"}
    features = plain_chat(body, stream)
    assert (features is not None) == plain
    assert extract_features(body, Dialect.OPENAI, Operation.CHAT, stream=stream) == walked(body, stream)
    if features is not None:
        assert features == walked(body, stream)
