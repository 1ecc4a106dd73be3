"""Instructions of a memory miss's work after its answer (``server.cache_stage._keep``), per dialect and shape,
and of the first read of what it kept, without the server around them.

    python bench/cache_keep_parts.py [--few 300] [--many 1300] [--baseline REF] [--answers openai,anthropic,...]

Runs this file under ``valgrind --tool=cachegrind`` three times a pair of counts (``--few``, then ``--many``
operations in process), per answer:

- ``setup``: the loop itself: a key per answer, its ``web.Response`` (the caller's bytes) and the body the
  fallback loop parsed, made ahead with the collector off, and the exchange ``_keep`` reads (a stand-in
  with its attributes), all then frozen (``gc.freeze``: else the collections that what is kept sets off
  scan them, a cost growing with the count that does not cancel out);
- ``keep``: ``_keep`` of each answer to a caller of its own dialect, for a memory store with no follower
  waiting: an entry made and written, or the answer kept as its bytes (``cache.pending``);
- ``read``: then the key's first lookup (``ResponseCache.lookup``): a pending answer's entry made there.

Answers (each about 2 KB of text, as bench/cache_path.py's): ``openai`` (a chat completion), ``openai-tools``
(one with a tool call), ``anthropic`` (a message), ``anthropic-tools`` (a ``tool_use`` block), ``gemini``
(a ``generateContent`` answer). The difference of the totals over the difference of the counts is one miss's
``_keep`` and one first read. ``--baseline REF``: the same with the ``sidecar`` package of git revision REF.
Needs valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from types import SimpleNamespace
from typing import Any

import orjson
from cache_path import answer_2k
from parts_command import measured_code, valgrind_script

TEXT = ("The sidecar answers repeated requests from its cache without calling a provider. " * 30)[:2000]
CALL = {"city": "Paris", "unit": "celsius", "days": 3}


def _bodies() -> dict[str, tuple[str, dict[str, Any]]]:
    """Each answer's dialect and body."""
    openai = orjson.loads(answer_2k())
    tools = orjson.loads(answer_2k())
    tools["choices"][0]["message"] = {
        "role": "assistant",
        "content": TEXT[:1000],
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "weather", "arguments": orjson.dumps(CALL).decode()},
            }
        ],
    }
    tools["choices"][0]["finish_reason"] = "tool_calls"
    usage = {"input_tokens": 31, "output_tokens": 400}
    anthropic = {
        "id": "msg_2k", "type": "message", "role": "assistant", "model": "claude-bench",
        "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn", "stop_sequence": None, "usage": usage,
    }  # fmt: skip
    call = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": CALL}
    anthropic_tools = {**anthropic, "content": [{"type": "text", "text": TEXT[:1000]}, call], "stop_reason": "tool_use"}
    gemini = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": TEXT}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 31, "candidatesTokenCount": 400, "totalTokenCount": 431},
        "modelVersion": "gemini-bench-001", "responseId": "resp-2k",
    }  # fmt: skip
    return {
        "openai": ("openai", openai),
        "openai-tools": ("openai", tools),
        "anthropic": ("anthropic", anthropic),
        "anthropic-tools": ("anthropic", anthropic_tools),
        "gemini": ("gemini", gemini),
    }


def answered(answer: str, n: int) -> tuple[Any, bytes, list[tuple[SimpleNamespace, Any]]]:
    """``answer``'s dialect, its bytes, and ``n`` answers of it as ``_keep`` reads them: each its exchange (a
    stand-in with the attributes read) and its ``web.Response``, with the body the fallback loop parsed."""
    from aiohttp import web

    from sidecar.dialects import Dialect

    dialect_name, body = _bodies()[answer]
    dialect = getattr(Dialect, dialect_name.upper())  # the one instance (``is`` compares them), not a new name
    raw = orjson.dumps(body)
    target = SimpleNamespace(name="t", upstream_model="bench-upstream", provider=SimpleNamespace(name="p"), price=None)
    facts = SimpleNamespace(dialect=dialect, stream=False)
    made = []
    for _ in range(n):
        response = web.Response(body=raw, content_type="application/json")
        exchange = SimpleNamespace(
            answered_by=target, degraded=None, stream_error=None, usage=None, facts=facts, billed=None,
            upstream_answer=(response, dialect, orjson.loads(raw)),
        )  # fmt: skip
        made.append((exchange, response))
    return dialect, raw, made


async def keep(answer: str, part: str, n: int) -> None:

    from sidecar.cache import CacheStoreSpec, RouteCacheSpec
    from sidecar.server import cache_stage
    from sidecar.server.response_caches import ResponseCaches

    settings = RouteCacheSpec(enabled=True, cacheable="always")
    try:  # what the stage reads: the slotted copy where there is one
        from sidecar.cache.rules import CacheRules

        settings = CacheRules.of(settings)  # type: ignore[assignment]
    except ImportError:  # a baseline before it
        pass
    caches = ResponseCaches({})
    caches.update(CacheStoreSpec.model_validate({"memory": {"max_entries": 100_000, "max_bytes": 1 << 30}}))
    store = caches.cache
    assert store is not None
    gc.disable()  # no collection while the work is made (where one falls would differ with the count)
    _, _, answers = answered(answer, n)
    work = [(f"key-{i:08d}", exchange, response) for i, (exchange, response) in enumerate(answers)]
    gc.freeze()  # the objects made ahead are not scanned by the collections the kept answers set off
    gc.enable()
    for key, exchange, response in work:
        if part == "setup":
            continue
        cache_stage._keep(exchange, response, None, caches, store, key, settings, None)  # type: ignore[arg-type]
        if part == "read":
            lookup = await store.lookup(key, settings)
            assert lookup.state == "hit", lookup.state
    if part != "setup":
        assert store.stats.stores == n, (store.stats.stores, store.stats.store_skips)
        if part == "keep":  # the kinds the code keeps pending are so kept, the others made at once
            print(f"kept as: {type(store.storage.backend.read(work[-1][0])).__name__}", file=sys.stderr)


def answer_arguments() -> argparse.Namespace:
    """The command line of this script and bench/cache_pending_parts.py: ``--few``, ``--many``, ``--baseline``,
    ``--answers``, and the hidden ``--run ANSWER PART N``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=300)
    parser.add_argument("--many", type=int, default=1300)
    parser.add_argument("--baseline", help="also measure this git revision's package")
    parser.add_argument("--answers", default="openai,openai-tools,anthropic,anthropic-tools,gemini")
    parser.add_argument("--run", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = answer_arguments()
    if args.run is not None:
        asyncio.run(keep(args.run[0], args.run[1], int(args.run[2])))
        return 0
    codes = measured_code(__file__, args)
    print(f"Answers: {args.answers}")
    print("\n| answer | code | setup | a miss's `_keep` | its first read | both |\n|---|---|---|---|---|---|")
    for answer in args.answers.split(","):
        for label, code in codes:
            per = []
            for part in ("setup", "keep", "read"):
                few = valgrind_script(__file__, ["--run", answer, part, str(args.few)], code)
                many = valgrind_script(__file__, ["--run", answer, part, str(args.many)], code)
                per.append((many - few) / (args.many - args.few))
            keep_cost, read_cost = per[1] - per[0], per[2] - per[1]
            cells = f"{per[0]:,.0f} | {keep_cost:,.0f} | {read_cost:,.0f} | {keep_cost + read_cost:,.0f}"
            print(f"| {answer} | {label} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
