"""Non-stream response translation: every direction, checked through the caller's SDK types; finish
reasons both ways; usage meaning; response ids; blocked prompts."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import anthropic.types
import openai.types.chat
import pytest
from google.genai import types as genai_types

from sidecar.dialects import Dialect, Operation
from sidecar.dialects.anthropic import response as anthropic_response
from sidecar.dialects.gemini import response as gemini_response
from sidecar.dialects.openai import response as openai_response
from sidecar.dialects.registry import DIALECTS
from sidecar.translate import build_chat_response, parse_chat_response, translate_response
from sidecar.translate.common import FinishReason

from . import sdk
from .responses import BODIES, anthropic_body, gemini_body, openai_body
from .streams import CALLS, TEXT, TOOL_TEXT

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI


PAIRS = list(itertools.permutations(DIALECTS, 2))


def _read(
    target: Dialect, body: dict[str, Any]
) -> tuple[str, list[tuple[str, Any]], list[str], str, tuple[int, int, int]]:
    """(text, calls, call ids, finish, (input, output, cached)) as the caller's SDK reads ``body``."""
    raw = json.dumps(body).encode()
    if target is OAI:
        completion = openai.types.chat.ChatCompletion.model_validate(body)
        via_sdk = sdk.openai_client(raw, sdk.JSON).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
        assert via_sdk == completion
        msg = completion.choices[0].message
        calls = msg.tool_calls or []
        usage = completion.usage
        assert usage is not None
        assert usage.prompt_tokens_details is not None
        return (
            msg.content or "",
            [(c.function.name, json.loads(c.function.arguments)) for c in calls],
            [c.id for c in calls],
            completion.choices[0].finish_reason,
            (usage.prompt_tokens, usage.completion_tokens, usage.prompt_tokens_details.cached_tokens or 0),
        )
    if target is ANT:
        message = anthropic.types.Message.model_validate(body)
        via_sdk = sdk.anthropic_client(raw, sdk.JSON).messages.create(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
        assert via_sdk == message
        u = message.usage
        uses = [b for b in message.content if b.type == "tool_use"]
        return (
            "".join(b.text for b in message.content if b.type == "text"),
            [(b.name, b.input) for b in uses],
            [b.id for b in uses],
            str(message.stop_reason),
            (
                u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0),
                u.output_tokens,
                u.cache_read_input_tokens or 0,
            ),
        )
    response = genai_types.GenerateContentResponse.model_validate(body)
    via_sdk = sdk.gemini_client(raw, sdk.JSON).models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert via_sdk.candidates == response.candidates
    parts = response.candidates[0].content.parts or []
    meta = response.usage_metadata
    return (
        "".join(p.text for p in parts if p.text and not p.thought),
        [(p.function_call.name, p.function_call.args) for p in parts if p.function_call],
        [p.function_call.id for p in parts if p.function_call],
        str(response.candidates[0].finish_reason.value),
        (
            meta.prompt_token_count,
            (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
            meta.cached_content_token_count or 0,
        ),
    )


FINISH = {
    ("text", OAI): "stop",
    ("tools", OAI): "tool_calls",
    ("text", ANT): "end_turn",
    ("tools", ANT): "tool_use",
    ("text", GEM): "STOP",
    ("tools", GEM): "STOP",
}
USAGE = {OAI: (82, 41, 64), ANT: (82, 41, 64), GEM: (82, 41, 64)}


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}->{t}" for s, t in PAIRS])
@pytest.mark.parametrize("scenario", ["text", "tools"])
def test_response(source: Dialect, target: Dialect, scenario: str) -> None:
    """The caller's SDK reads the upstream's text (not its thinking), tool calls, finish reason and usage."""
    out = translate_response(
        BODIES[source](scenario), source=source, target=target, operation=Operation.CHAT, model="caller-model"
    )
    text, calls, ids, finish, usage = _read(target, out)
    assert text == (TEXT if scenario == "text" else TOOL_TEXT)
    assert calls == ([] if scenario == "text" else CALLS)
    assert len(set(ids)) == len(ids)
    assert all(ids)
    assert finish == FINISH[(scenario, target)]
    assert usage == USAGE[source]


def test_response_ids_are_kept() -> None:
    """The upstream's response id is the caller's id; tool-call ids are kept where the upstream gave them."""
    out = translate_response(anthropic_body("tools"), source=ANT, target=OAI, operation=Operation.CHAT, model="m")
    assert out["id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert [c["id"] for c in out["choices"][0]["message"]["tool_calls"]] == ["toolu_00", "toolu_01"]
    out = translate_response(openai_body("tools"), source=OAI, target=GEM, operation=Operation.CHAT, model="m")
    assert out["responseId"] == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
    assert [p["functionCall"]["id"] for p in out["candidates"][0]["content"]["parts"][1:]] == [
        "call_0",
        "call_1",
    ]


def test_gemini_call_ids_are_synthesised_from_the_response_id() -> None:
    """Gemini sends no call ids: they are derived from responseId, stable and distinct."""
    out = translate_response(gemini_body("tools"), source=GEM, target=ANT, operation=Operation.CHAT, model="m")
    ids = [b["id"] for b in out["content"] if b["type"] == "tool_use"]
    assert ids == ["gemini_call_mXbAaJLuNc-p1MkPnJ7xsQw_0", "gemini_call_mXbAaJLuNc-p1MkPnJ7xsQw_1"]


def test_a_gemini_answer_rebuilt_for_gemini_has_the_call_ids_it_had() -> None:
    """Through the common form and back (as the cache and an ensemble's stream replay it): a call
    without an id stays without one, Gemini's own id is kept."""
    body = gemini_body("tools")
    body["candidates"][0]["content"]["parts"][3]["functionCall"]["id"] = "gemini-given-7"
    common = parse_chat_response(body, GEM)
    rebuilt = build_chat_response(common, GEM, "m")
    calls = [p["functionCall"] for p in rebuilt["candidates"][0]["content"]["parts"] if "functionCall" in p]
    assert ["id" in call for call in calls] == [False, True]
    assert calls[1]["id"] == "gemini-given-7"


FINISH_TABLE = [
    (OAI, "stop", "end_turn", "STOP"),
    (OAI, "length", "max_tokens", "MAX_TOKENS"),
    (OAI, "content_filter", "refusal", "SAFETY"),
    (ANT, "end_turn", "stop", "STOP"),
    (ANT, "max_tokens", "length", "MAX_TOKENS"),
    (ANT, "stop_sequence", "stop", "STOP"),
    (ANT, "refusal", "content_filter", "SAFETY"),
    (ANT, "pause_turn", "stop", "STOP"),
    (ANT, "model_context_window_exceeded", "length", "MAX_TOKENS"),
    (GEM, "MAX_TOKENS", "length", "max_tokens"),
    (GEM, "SAFETY", "content_filter", "refusal"),
    (GEM, "RECITATION", "content_filter", "refusal"),
    (GEM, "PROHIBITED_CONTENT", "content_filter", "refusal"),
    (GEM, "ESCALATION", "content_filter", "refusal"),
    (GEM, "PUP_LIMITED_DISABLED", "content_filter", "refusal"),
    (GEM, "CONTINUATION", "length", "max_tokens"),
    (GEM, "MALFORMED_FUNCTION_CALL", "stop", "end_turn"),
    (GEM, "OTHER", "stop", "end_turn"),
]


@pytest.mark.parametrize(
    ("source", "raw", "first", "second"), FINISH_TABLE, ids=[f"{r[0]}-{r[1]}" for r in FINISH_TABLE]
)
def test_finish_reason(source: Dialect, raw: str, first: str, second: str) -> None:
    """Each finish/stop reason maps to its counterpart in both other dialects."""
    targets = [t for t in DIALECTS if t is not source]
    body = BODIES[source]("text", raw)
    got = []
    for target in targets:
        out = translate_response(body, source=source, target=target, operation=Operation.CHAT, model="m")
        got.append(_read(target, out)[3])
    assert got == [first, second]


def test_anthropic_stop_sequence_is_reported() -> None:
    """A stop_sequence stop keeps the matched sequence when an Anthropic caller gets it back."""
    from sidecar.dialects.anthropic.response import build_response
    from sidecar.translate import common

    resp: common.ChatResponse = {
        "id": "x",
        "choices": [{"parts": [], "finish_reason": common.FinishReason.STOP_SEQUENCE, "stop_sequence": "###"}],
        "usage": None,
    }
    out = build_response(resp, "m")
    assert (out["stop_reason"], out["stop_sequence"]) == ("stop_sequence", "###")


def test_gemini_blocked_prompt() -> None:
    """A Gemini prompt blocked before any candidate is a content_filter / refusal answer with no text."""
    body = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
    }
    out = translate_response(body, source=GEM, target=OAI, operation=Operation.CHAT, model="m")
    assert out["choices"][0]["finish_reason"] == "content_filter"
    assert out["choices"][0]["message"]["content"] == ""
    out = translate_response(body, source=GEM, target=ANT, operation=Operation.CHAT, model="m")
    assert out["stop_reason"] == "refusal"
    assert out["content"] == []


def test_gemini_candidates_become_choices() -> None:
    """Several Gemini candidates (candidateCount) become several OpenAI choices."""
    body = gemini_body("text")
    body["candidates"].append(
        {"content": {"parts": [{"text": "Hi!"}], "role": "model"}, "finishReason": "STOP", "index": 1}
    )
    out = translate_response(body, source=GEM, target=OAI, operation=Operation.CHAT, model="m")
    assert [c["message"]["content"] for c in out["choices"]] == [TEXT, "Hi!"]
    assert [c["index"] for c in out["choices"]] == [0, 1]


def test_openai_reasoning_tokens_reach_gemini_thoughts() -> None:
    """OpenAI reasoning tokens are Gemini thoughtsTokenCount; candidatesTokenCount excludes them."""
    out = translate_response(openai_body("text"), source=OAI, target=GEM, operation=Operation.CHAT, model="m")
    assert out["usageMetadata"] == {
        "promptTokenCount": 82,
        "candidatesTokenCount": 31,
        "thoughtsTokenCount": 10,
        "cachedContentTokenCount": 64,
        "totalTokenCount": 123,
    }


def test_anthropic_thinking_tokens_are_the_other_dialects_reasoning_tokens() -> None:
    """Anthropic's ``usage.output_tokens_details.thinking_tokens`` (anthropic 2.17; a part of
    ``output_tokens``) reaches OpenAI as ``completion_tokens_details.reasoning_tokens`` and Gemini as
    ``thoughtsTokenCount``; OpenAI's reasoning tokens reach an Anthropic app as ``thinking_tokens``, which its
    SDK reads. Before 2026-12-06 they were lost both ways (0)."""
    body = anthropic_body("text")
    body["usage"]["output_tokens_details"] = {"thinking_tokens": 25}
    to_openai = translate_response(body, source=ANT, target=OAI, operation=Operation.CHAT, model="m")
    assert to_openai["usage"]["completion_tokens_details"] == {"reasoning_tokens": 25}
    to_gemini = translate_response(body, source=ANT, target=GEM, operation=Operation.CHAT, model="m")
    assert to_gemini["usageMetadata"]["thoughtsTokenCount"] == 25
    to_anthropic = translate_response(openai_body("text"), source=OAI, target=ANT, operation=Operation.CHAT, model="m")
    message = anthropic.types.Message.model_validate(to_anthropic)
    assert message.usage.output_tokens_details is not None
    assert message.usage.output_tokens_details.thinking_tokens == 10


def test_anthropic_usage_splits_cache_fields() -> None:
    """Anthropic input_tokens excludes cache reads and writes: OpenAI prompt_tokens counts them all, its
    ``prompt_tokens_details`` the reads (``cached_tokens``) and the writes (``cache_write_tokens``, openai
    3.63), which the SDK reads and which come back to Anthropic apart (before 2026-12-06 the writes were not
    written, and folded into Anthropic's input_tokens on the way back)."""
    out = translate_response(anthropic_body("text"), source=ANT, target=OAI, operation=Operation.CHAT, model="m")
    assert out["usage"]["prompt_tokens"] == 12 + 6 + 64
    usage = openai.types.chat.ChatCompletion.model_validate(out).usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert (usage.prompt_tokens_details.cached_tokens, usage.prompt_tokens_details.cache_write_tokens) == (64, 6)
    back = translate_response(out, source=OAI, target=ANT, operation=Operation.CHAT, model="m")
    assert back["usage"]["input_tokens"] == 12
    assert back["usage"]["cache_read_input_tokens"] == 64
    assert back["usage"]["cache_creation_input_tokens"] == 6


def test_openai_refusal_is_a_content_filter_stop() -> None:
    """An OpenAI answer that is a refusal (structured outputs) reaches an Anthropic caller as stop_reason
    refusal, with the refusal text."""
    body = openai_body("text")
    body["choices"][0]["message"].update(content=None, refusal="I can't help with that.")
    out = translate_response(body, source=OAI, target=ANT, operation=Operation.CHAT, model="m")
    assert out["stop_reason"] == "refusal"
    assert out["content"] == [{"type": "text", "text": "I can't help with that."}]


def documented_finish_rows() -> list[tuple[str, list[str], list[str], bool]]:
    """docs/translation.md's finish-reason table: per row the OpenAI reason, the Anthropic reasons and
    the Gemini reasons it names, and whether the Gemini cell says "with function calls"."""
    text = (Path(__file__).parents[2] / "docs" / "translation.md").read_text()
    table = text.split("Finish reasons:", 1)[1].split("\n\n", 2)[1]
    rows = []
    for line in table.splitlines()[2:]:
        openai_cell, anthropic_cell, gemini_cell = line.strip("|").split("|")
        rows.append(
            (
                re.findall(r"`([a-z_]+)`", openai_cell)[0],
                re.findall(r"`([a-z_]+)`", anthropic_cell),
                re.findall(r"`([A-Z_]+)`", gemini_cell),
                "with function calls" in gemini_cell,
            )
        )
    return rows


def test_documented_finish_reasons_are_the_dialects_mappings() -> None:
    """Every Anthropic and Gemini finish reason in docs/translation.md's table reaches an OpenAI caller
    as its row's OpenAI reason, an OpenAI reason reaches Anthropic and Gemini callers as one its first
    row names, and every reason the two dialects map is in the table."""
    seen_anthropic: set[str] = set()
    seen_gemini: set[str] = set()
    seen_reasons: set[FinishReason] = set()
    for openai_reason, anthropic_reasons, gemini_reasons, with_calls in documented_finish_rows():
        for reason in anthropic_reasons:
            got = anthropic_response.FINISH_FROM.get(reason, FinishReason.OTHER)
            assert openai_response.FINISH_TO[got] == openai_reason, reason
        for reason in gemini_reasons:
            got = gemini_response.finish_from(reason, with_calls) or FinishReason.OTHER
            assert openai_response.FINISH_TO[got] == openai_reason, reason
        if openai_reason not in {openai_response.FINISH_TO[r] for r in seen_reasons}:
            common = openai_response.FINISH_FROM[openai_reason]
            assert anthropic_response.FINISH_TO[common] in anthropic_reasons, openai_reason
            assert gemini_response.FINISH_TO[common] in gemini_reasons, openai_reason
            seen_reasons.add(common)
        seen_anthropic |= set(anthropic_reasons)
        seen_gemini |= set(gemini_reasons)
    assert set(anthropic_response.FINISH_FROM) <= seen_anthropic
    assert set(gemini_response.FINISH_FROM) <= seen_gemini


def test_an_openai_compatible_content_list_is_read_as_its_text_parts() -> None:
    """Some OpenAI-compatible servers write ``message.content`` as a list of parts (Mistral's reasoning
    models: thinking, then text): its text parts are the answer's text, as a string ``content`` is. A
    content of another JSON type makes the answer malformed (it was read as no text at all)."""
    body = openai_body("text")
    body["choices"][0]["message"]["content"] = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
        {"type": "text", "text": "Hello"},
        {"type": "text", "text": " there"},
    ]
    out = translate_response(body, source=OAI, target=ANT, operation=Operation.CHAT, model="m")
    assert out["content"] == [{"type": "text", "text": "Hello there"}]
    body["choices"][0]["message"]["content"] = 5
    with pytest.raises(ValueError, match="malformed openai response body"):
        translate_response(body, source=OAI, target=ANT, operation=Operation.CHAT, model="m")
