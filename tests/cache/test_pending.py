"""An answer kept pending (``cache.pending``): what the miss decides at once from the parsed body, and the
entry its first read makes: the one the miss would have made, counted at its size from then on."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from sidecar.cache import CacheStoreSpec, ResponseCache, RouteCacheSpec, entry_from_response
from sidecar.cache.entry import footprint
from sidecar.cache.extras import extras_of
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
        (_answer({"content": [{"type": "text", "text": "sunny"}]}), False, FULL),
        ({**_answer({"content": "a"}), "choices": []}, False, FULL),
        ({**_answer({"content": "a"}), "id": 7}, False, FULL),
    ],
)
def test_a_whole_openai_answer_is_judged_as_its_entry_would_be(
    body: dict[str, Any], truncated: bool, verdict: str | None
) -> None:
    """``whole_verdict``: storable (None), the reason ``unstorable`` gives the entry it would make, or
    ``FULL`` for what the check does not read (tool calls, content parts, no single choice, an odd id)."""
    assert whole_verdict(body, store_truncated=truncated) == verdict


def test_a_pending_answers_entry_is_the_one_the_miss_would_have_made() -> None:
    """``Pending.entry``: the entry made from the body in the common form, its model and extras read from
    it, the target, provider, time and cost as given; a body that does not read: None."""
    body = _answer({"content": "sunny and mild"})
    stored_at = time.time()
    pending = Pending(orjson.dumps(body), model="up", target="t", provider="p", stored_at=stored_at, cost_usd=0.5)
    made = entry_from_response(
        parse_chat_response(body, Dialect.OPENAI), model="gpt-4o-mini-2024-07-18", target="t", provider="p",
        stored_at=stored_at, cost_usd=0.5, extras=extras_of(body, Dialect.OPENAI),
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
