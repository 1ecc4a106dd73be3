"""A translated conversation begins as its target takes one: bench/translation_fuzz.py found requests valid
in the caller's dialect that reached Anthropic beginning with an assistant turn (Anthropic's 400 ``messages:
first message must use the "user" role``, which ends the route) or reached Anthropic and Gemini with no turn
at all. They are refused before any call (``untranslatable_request``: the route's next target serves them)."""

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


def test_an_openai_chat_opened_by_the_assistants_greeting_is_refused_towards_anthropic() -> None:
    """A chatbot's greeting before the user's first turn (OpenAI takes it) would reach Anthropic as its first
    message: refused, naming ``messages`` and why."""
    body = chat(("system", "be brief"), ("assistant", "Hi! How can I help?"), ("user", "hello"))
    with pytest.raises(TranslationError, match=r"'messages': the conversation begins with an assistant turn"):
        tr(body, OAI, ANT)


def test_an_empty_first_user_turn_does_not_leave_an_anthropic_conversation_opened_by_the_assistant() -> None:
    """A first user turn of only an empty text is left out towards Anthropic (which refuses empty text
    blocks); the assistant turn after it would open the conversation: refused."""
    body = chat(("user", [{"type": "text", "text": ""}]), ("assistant", "ok"), ("user", "go on"))
    with pytest.raises(TranslationError, match="begins with an assistant turn"):
        tr(body, OAI, ANT)


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
