"""An answer kept pending (``cache.pending``): what the miss decides at once from the parsed body, and the
entry its first read makes: the one the miss would have made, counted at its size from then on."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from sidecar.cache import CacheStoreSpec, ResponseCache, RouteCacheSpec, entry_from_response
from sidecar.cache.entry import ToolPiece, footprint
from sidecar.cache.extras import extras_of, model_of
from sidecar.cache.memory import ENTRY_OVERHEAD
from sidecar.cache.pending import FULL, Pending, whole_verdict
from sidecar.cache.store import KEPT_OVERHEAD, KEPT_SLACK, Kept, MemoryStore
from sidecar.dialects import Dialect
from sidecar.translate import parse_chat_response

SETTINGS = RouteCacheSpec(enabled=True, ttl_s=600)


def _answer(message: dict[str, Any], finish: str | None = "stop", **more: Any) -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish, "logprobs": None}
    usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
            "choices": [choice], "usage": usage, "system_fingerprint": "fp_1", **more}  # fmt: skip


_CALL = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}


@pytest.mark.parametrize(
    ("body", "truncated", "verdict"),
    [
        (_answer({"content": "sunny"}), False, None),
        (_answer({"reasoning_content": "hm"}), False, None),
        (_answer({"content": "sunny"}, "length"), False, "truncated"),
        (_answer({"content": "sunny"}, "length"), True, None),
        (_answer({"content": None, "refusal": "I can't"}), False, "refused"),
        (_answer({"content": "x"}, "content_filter"), False, "refused"),
        (_answer({"content": ""}), False, "empty"),
        (_answer({"content": "sunny"}, None), False, "unfinished"),
        (_answer({"content": "sunny"}, "odd"), False, "unfinished"),
        (_answer({"content": None, "tool_calls": [{"id": "c", "function": {"name": "f"}}]}, "tool_calls"), False, FULL),
        (_answer({"content": None, "tool_calls": [_CALL]}, "tool_calls"), False, None),
        (_answer({"content": None, "tool_calls": [_CALL]}, "length"), False, "truncated"),
        (_answer({"content": "x"}, 7), False, FULL),
        (_answer({"content": [{"type": "text", "text": "sunny"}]}), False, FULL),
        ({**_answer({"content": "a"}), "choices": []}, False, FULL),
        ({**_answer({"content": "a"}), "id": 7}, False, FULL),
    ],
)
def test_a_whole_openai_answer_is_judged_as_its_entry_would_be(
    body: dict[str, Any], truncated: bool, verdict: str | None
) -> None:
    """``whole_verdict``: storable (None), the reason ``unstorable`` gives the entry it would make, or
    ``FULL`` for what the check does not read (a call without its arguments' text, content parts, no single
    choice, an odd id or finish reason)."""
    assert whole_verdict(body, Dialect.OPENAI, store_truncated=truncated) == verdict


def test_a_pending_answers_entry_is_the_one_the_miss_would_have_made() -> None:
    """``Pending.entry``: the entry made from the body in the common form, its model and extras read from
    it, the upstream model asked for, the target, provider, time and cost as given; a body that does not
    read: None."""
    body = _answer({"content": "sunny and mild"})
    stored_at = time.time()
    pending = Pending(orjson.dumps(body), model="up", target="t", provider="p", stored_at=stored_at, cost_usd=0.5)
    made = entry_from_response(
        parse_chat_response(body, Dialect.OPENAI), model="gpt-4o-mini-2024-07-18", target="t", provider="p",
        stored_at=stored_at, cost_usd=0.5, extras=extras_of(body, Dialect.OPENAI), asked="up",
    )  # fmt: skip
    assert pending.entry() == made
    damaged = Pending(b"{not json", model="up", target="t", provider="p", stored_at=stored_at, cost_usd=None)
    assert damaged.entry() is None


def test_the_first_read_of_a_pending_answer_keeps_its_entry_counted_at_its_footprint() -> None:
    """Kept pending: counted at its bytes; read: the entry made, kept in its place (its later reads the same
    object) and counted as a written entry is (``footprint`` with the kept overhead and slack)."""
    cache = ResponseCache.from_spec(CacheStoreSpec())
    storage = cache.storage
    assert isinstance(storage, MemoryStore)
    raw = orjson.dumps(_answer({"content": "sunny and mild"}))
    pending = Pending(raw, model="up", target="t", provider="p", stored_at=time.time(), cost_usd=None)
    assert cache.store_in_memory("k", pending, SETTINGS) is None
    assert storage.backend.bytes == pending.size + KEPT_OVERHEAD + KEPT_SLACK + len("k") + ENTRY_OVERHEAD
    kept = storage.read_kept("k")
    assert isinstance(kept, Kept) and storage.read_kept("k") is kept
    assert storage.backend.bytes == footprint(kept.entry) + KEPT_OVERHEAD + KEPT_SLACK + len("k") + ENTRY_OVERHEAD
    assert cache.stats.stores == 1


def test_a_pending_answer_that_does_not_read_is_dropped_and_counted_damaged() -> None:
    """A pending answer whose bytes make no entry: its read is a miss, the key dropped, counted damaged."""
    cache = ResponseCache.from_spec(CacheStoreSpec())
    pending = Pending(b"[]", model="up", target="t", provider="p", stored_at=time.time(), cost_usd=None)
    cache.store_in_memory("k", pending, SETTINGS)
    assert cache.lookup_in_memory("k", SETTINGS).state == "miss"
    assert cache.stats.damaged == 1
    assert cache.storage.gauges()["entries"] == 0


def test_a_pending_answers_entry_keeps_the_body_rendered_for_its_first_hit() -> None:
    """The entry made on the first read keeps the body rendered for its first hit (counted once): its later
    hits are served that rendering, the store's bytes unchanged."""
    cache = ResponseCache.from_spec(CacheStoreSpec())
    raw = orjson.dumps(_answer({"content": "sunny and mild"}))
    pending = Pending(raw, model="up", target="t", provider="p", stored_at=time.time(), cost_usd=None)
    cache.store_in_memory("k", pending, SETTINGS)
    served, counted = [], []
    for _ in range(3):
        lookup = cache.lookup_in_memory("k", SETTINGS, Dialect.OPENAI)
        assert lookup.state == "hit" and lookup.entry is not None
        served.append(orjson.loads(cache.answer("k", lookup.entry, Dialect.OPENAI, "body"))["choices"])
        counted.append(cache.storage.gauges()["bytes"])
    entry_alone = footprint(lookup.entry) + KEPT_OVERHEAD + KEPT_SLACK + len("k") + ENTRY_OVERHEAD
    assert served[0] == served[1] == served[2]
    assert counted[0] == counted[1] == counted[2] > entry_alone  # the rendering counted with it, once


def _message(*blocks: dict[str, Any], stop: Any = "end_turn") -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x-20250101",
            "content": list(blocks), "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": 9, "output_tokens": 3}}  # fmt: skip


_TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}


@pytest.mark.parametrize(
    ("body", "truncated", "verdict"),
    [
        (_message({"type": "text", "text": "sunny"}), False, None),
        (_message({"type": "text", "text": "let me look"}, _TOOL_USE, stop="tool_use"), False, None),
        (_message({"type": "text", "text": "sunny"}, stop="max_tokens"), False, "truncated"),
        (_message({"type": "text", "text": "sunny"}, stop="max_tokens"), True, None),
        (_message({"type": "text", "text": "no"}, stop="refusal"), False, "refused"),
        (_message(), False, "empty"),
        (_message({"type": "text", "text": "sunny"}, stop=None), False, "unfinished"),
        (_message({"type": "text", "text": "sunny"}, stop="pause_turn"), False, "unfinished"),
        (
            _message({"type": "thinking", "thinking": "hm", "signature": "s"}, {"type": "text", "text": "a"}),
            False,
            FULL,
        ),
        (_message({**_TOOL_USE, "name": "sidecar_json_response"}, stop="tool_use"), False, FULL),
        (_message({**_TOOL_USE, "input": "{}"}, stop="tool_use"), False, FULL),
        (_message({"type": "text", "text": 7}), False, FULL),
        (_message({"type": "text", "text": "a"}, stop=["end_turn"]), False, FULL),
    ],
)
def test_a_whole_anthropic_message_is_judged_as_its_entry_would_be(
    body: dict[str, Any], truncated: bool, verdict: str | None
) -> None:
    """``whole_verdict`` of an Anthropic message: text and tool calls judged as ``unstorable`` would judge
    their entry; thinking, an answer tool's call (read as text), odd members: ``FULL``."""
    assert whole_verdict(body, Dialect.ANTHROPIC, store_truncated=truncated) == verdict


def _gemini(*parts: dict[str, Any], finish: Any = "STOP") -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "gemini-x-001", "responseId": "r1",
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12}}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "truncated", "verdict"),
    [
        (_gemini({"text": "sunny"}), False, None),
        (_gemini({"functionCall": {"name": "weather", "args": {"city": "Paris"}}}), False, None),
        (_gemini({"text": "sunny"}, finish="MAX_TOKENS"), False, "truncated"),
        (_gemini({"text": "sunny"}, finish="SAFETY"), False, "refused"),
        (_gemini({"text": ""}), False, "empty"),
        (_gemini({"text": "sunny"}, finish=None), False, "unfinished"),
        (_gemini({"text": "hm", "thought": True}, {"text": "a"}), False, FULL),
        (_gemini({"text": "a", "thoughtSignature": "s"}), False, FULL),
        (_gemini({"inlineData": {"mimeType": "image/png", "data": ""}}), False, FULL),
        ({**_gemini({"text": "a"}), "candidates": []}, False, FULL),
    ],
)
def test_a_whole_gemini_answer_is_judged_as_its_entry_would_be(
    body: dict[str, Any], truncated: bool, verdict: str | None
) -> None:
    """``whole_verdict`` of a Gemini answer: text and function calls judged as ``unstorable`` would judge
    their entry; thoughts, signatures, other parts, no single candidate: ``FULL``."""
    assert whole_verdict(body, Dialect.GEMINI, store_truncated=truncated) == verdict


@pytest.mark.parametrize(
    ("dialect", "body"),
    [
        (Dialect.OPENAI, _answer({"content": None, "tool_calls": [_CALL]}, "tool_calls")),
        (Dialect.ANTHROPIC, _message({"type": "text", "text": "let me look"}, _TOOL_USE, stop="tool_use")),
        (Dialect.GEMINI, _gemini({"text": "sunny"}, {"functionCall": {"name": "weather", "args": {"n": 1}}})),
    ],
)
def test_a_pending_answer_of_any_dialect_makes_the_entry_the_miss_would_have_made(
    dialect: Dialect, body: dict[str, Any]
) -> None:
    """``Pending.entry`` of a whole answer kept in its dialect: the entry of the body in the common form,
    the model it names (and the one asked for), its extras, and an OpenAI call's arguments as written."""
    raw = orjson.dumps(body)
    stored_at = time.time()
    pending = Pending(raw, model="up", target="t", provider="p", stored_at=stored_at, cost_usd=0.5, dialect=dialect)
    written = (_CALL["function"]["arguments"],) if dialect is Dialect.OPENAI else ()
    made = entry_from_response(
        parse_chat_response(body, dialect), model=model_of(body) or "up", target="t", provider="p",
        stored_at=stored_at, cost_usd=0.5, extras=extras_of(body, dialect), arguments=written, asked="up",
    )  # fmt: skip
    assert made is not None and made.pieces and pending.entry() == made


def test_an_anthropic_calls_long_integer_is_kept_exactly_by_its_pending_entry() -> None:
    """A pending Anthropic answer whose call's input holds an integer beyond 64 bits: its entry keeps the
    digits as written (read exactly, as an entry made at once is)."""
    raw = orjson.dumps(_message(_TOOL_USE, stop="tool_use")).replace(b'"Paris"', b"123456789012345678901234567890")
    pending = Pending(raw, model="up", target="t", provider="p", stored_at=time.time(), cost_usd=None,
                      dialect=Dialect.ANTHROPIC)  # fmt: skip
    entry = pending.entry()
    assert entry is not None and isinstance(entry.pieces[0], ToolPiece)
    assert "123456789012345678901234567890" in entry.pieces[0].arguments
