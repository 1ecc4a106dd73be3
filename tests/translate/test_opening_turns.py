"""A translated conversation begins as its target takes one: bench/translation_fuzz.py found requests valid
in the caller's dialect that reached Anthropic and Gemini with no turn at all, and an agent's history that
reached Gemini opening with its own function call (Gemini's 400, which ends the route). They are refused
before any call (``untranslatable_request``: the route's next target serves them). A conversation that
begins with a text answer is sent: Anthropic and Gemini take it."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.translate import TranslateOptions, TranslationError, translate_request

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI
MODELS = {OAI: "gpt-4o", ANT: "claude-sonnet-4-5", GEM: "gemini-2.5-flash"}
AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}


def chat(*turns: tuple[str, Any]) -> dict[str, Any]:
    """An OpenAI chat of ``(role, content)`` messages."""
    return {"model": "m", "messages": [{"role": role, "content": content} for role, content in turns]}


def tr(body: dict[str, Any], source: Dialect, target: Dialect, unsupported: str = "error") -> Any:
    options = TranslateOptions(unsupported=unsupported)  # type: ignore[arg-type]
    return translate_request(
        body, source=source, target=target, operation=Operation.CHAT, target_model=MODELS[target], options=options
    )[0]


CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


@pytest.mark.parametrize("target", [ANT, GEM])
def test_an_openai_chat_opened_by_the_assistants_greeting_is_sent_as_it_begins(target: Dialect) -> None:
    """A chatbot's greeting before the user's first turn (OpenAI takes it) reaches Anthropic and Gemini as
    their first turn: both take a conversation that begins with a text answer (Anthropic since 2024-10:
    docs/translation.md, "Alternation"); before 2026-12-06 it was refused towards Anthropic."""
    body = chat(("system", "be brief"), ("assistant", "Hi! How can I help?"), ("user", "hello"))
    turns = tr(body, OAI, target)["messages" if target is ANT else "contents"]
    assert [t["role"] for t in turns] == (["assistant", "user"] if target is ANT else ["model", "user"])


def test_an_agents_conversation_opened_by_its_own_tool_call_is_refused_towards_gemini() -> None:
    """An agent's history with no user turn (system, its call, the call's result) would reach Gemini
    opening with a function call, which Gemini refuses (``Please ensure that function call turn comes
    immediately after a user turn or after a function response turn``): refused, naming ``messages``."""
    body = chat(("system", "act"), ("assistant", None), ("tool", "sunny"))
    body["messages"][1]["tool_calls"] = [CALL]
    body["messages"][2]["tool_call_id"] = "c1"
    with pytest.raises(TranslationError, match=r"'messages': the conversation begins with a tool call"):
        tr(body, OAI, GEM)
    assert [m["role"] for m in tr(body, OAI, ANT)["messages"]] == ["assistant", "user"]  # Anthropic takes it


def test_an_empty_first_user_turn_before_a_tool_call_is_refused_towards_gemini() -> None:
    """A first user turn of only an empty text is left out (Gemini refuses an empty text part), which
    leaves the assistant's tool call first: refused."""
    body = chat(("user", [{"type": "text", "text": ""}]), ("assistant", None), ("tool", "sunny"))
    body["messages"][1]["tool_calls"] = [CALL]
    body["messages"][2]["tool_call_id"] = "c1"
    with pytest.raises(TranslationError, match="begins with a tool call"):
        tr(body, OAI, GEM)


def test_an_anthropic_apps_conversation_opened_by_a_tool_call_names_its_messages_towards_gemini() -> None:
    """The refusal names the caller's field: an Anthropic app's ``messages``."""
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}
    body = {
        "model": "m",
        "max_tokens": 9,
        "messages": [{"role": "assistant", "content": [use]}, {"role": "user", "content": [result]}],
    }
    with pytest.raises(TranslationError, match=r"'messages': the conversation begins with a tool call"):
        tr(body, ANT, GEM)


@pytest.mark.parametrize("target", [ANT, GEM])
def test_a_conversation_left_without_a_turn_is_refused_even_under_drop(target: Dialect) -> None:
    """An OpenAI user turn of an empty text and audio (dropped under ``drop``) leaves nothing to send:
    refused, never sent as empty ``messages`` / ``contents``, which Anthropic and Gemini refuse."""
    body = chat(("user", [{"type": "text", "text": ""}, AUDIO]))
    with pytest.raises(TranslationError, match=r"'messages': no turn is left"):
        tr(body, OAI, target, unsupported="drop")


def test_a_gemini_conversation_left_without_a_turn_names_contents() -> None:
    """The refusal names the caller's field: a Gemini app's ``contents``."""
    body = {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}]}]}
    with pytest.raises(TranslationError, match=r"'contents': no turn is left"):
        tr(body, GEM, ANT, unsupported="drop")


def test_a_conversation_opened_by_the_user_still_translates() -> None:
    """The usual conversation is untouched: an empty user turn in the middle merges the assistant turns."""
    body = chat(("user", "hi"), ("assistant", "a"), ("user", ""), ("assistant", "b"), ("user", "c"))
    assert [m["role"] for m in tr(body, OAI, ANT)["messages"]] == ["user", "assistant", "user"]
    assert [c["role"] for c in tr(body, OAI, GEM)["contents"]] == ["user", "model", "user"]
