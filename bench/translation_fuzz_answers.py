"""Seeded random *valid* answers of each upstream dialect, read by each caller's official SDK
(bench/translation_fuzz.py's second half).

``answer_of(seed)`` draws one neutral answer: text segments (empty, long unicode, NUL, RTL), tool calls
with nested JSON arguments (big integers, exponent floats), thinking with a signature, a finish reason
(stop, length, tool calls, content filter; each dialect's spellings: Anthropic ``stop_sequence`` and
``pause_turn``, Gemini ``RECITATION``, ``OTHER``...), usage with cache reads and writes and reasoning
tokens. ``AnswerServer`` (a real loopback HTTP server) answers a request with the answer of the seed
written in its prompt (``fuzzseed-N``), in the dialect of the path it was called on, whole or streamed
(text in fragments, tool arguments in fragments, pings), as that provider writes it.

``run_answers`` sends, per seed, a request of a caller dialect through its official SDK (openai,
anthropic, google-genai: whole, and streamed through the SDK's stream helper, ``chat.completions.stream``
/ ``messages.stream`` final message, or google-genai's chunks joined) to the sidecar, routed to an
upstream of another dialect or its own, and checks what the SDK parsed against the answer drawn:
text, each call's name and arguments, finish reason and usage as docs/translation.md maps them.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from translation_fuzz_talk import EDGE_TEXTS, value

SEED = re.compile(rb"fuzzseed-(\d+)")
TOOLS = {
    "get_weather": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "extra": {"type": "object"}},
    },
    "lookup-order": {"type": "object", "properties": {"order": {"type": "integer"}, "items": {"type": "array"}}},
}
# Each kind of finish, as each upstream dialect may spell it
FINISH = {
    "openai": {"stop": ["stop"], "length": ["length"], "tool": ["tool_calls"], "filter": ["content_filter"]},
    "anthropic": {
        "stop": ["end_turn", "stop_sequence", "pause_turn"],
        "length": ["max_tokens", "model_context_window_exceeded"],
        "tool": ["tool_use"],
        "filter": ["refusal"],
    },
    "gemini": {
        "stop": ["STOP", "OTHER"],
        "length": ["MAX_TOKENS"],
        "tool": ["STOP"],
        "filter": ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"],
    },
}


@dataclass
class Answer:
    texts: list[str]
    calls: list[tuple[str, str, dict[str, Any]]]  # id, name, arguments
    thinking: tuple[str, str] | None  # text, signature
    finish: str  # stop, length, tool, filter
    spelled: str  # the finish reason as the upstream writes it
    usage: dict[str, int]  # input (cached included), cached, written (Anthropic), output, reasoning
    refusal: str | None = None  # OpenAI: a refusal without content
    extras: bool = False  # Anthropic: redacted thinking, server tool blocks, citations (asked by its own apps)
    choices: int = 1  # OpenAI and Gemini: several answers (the second: the text with " (2)")
    calls_first: bool = False  # Anthropic and Gemini: the calls before the text

    @property
    def text(self) -> str:
        return "".join(self.texts)


def edge_text(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return ""
    return rng.choice(EDGE_TEXTS).replace("\ud800", "") + f" #{rng.randrange(100)}"


def answer_of(seed: int, upstream: str) -> Answer:
    """Seed ``seed``'s answer, written by an upstream of dialect ``upstream``."""
    rng = random.Random(seed * 7919 + 1)
    calls = []
    if rng.random() < 0.4:
        for n in range(rng.randint(1, 3)):
            name = rng.choice(sorted(TOOLS))
            args = {
                key: value(rng, prop["type"]) for key, prop in TOOLS[name]["properties"].items() if rng.random() < 0.8
            }
            if rng.random() < 0.2:
                args["nested"] = value(rng, "object")
            calls.append((f"call_{seed}_{n}", name, args))
    texts = [edge_text(rng) for _ in range(rng.randint(0 if calls or rng.random() < 0.05 else 1, 4))]
    finish = "tool" if calls else rng.choice(("stop", "stop", "stop", "length", "filter"))
    thinking = (edge_text(rng) or "hmm", f"sig{seed}==") if rng.random() < 0.3 else None
    total_in = rng.choice((0, 1, 17, 123456, 10**9))  # a billion: the most a count may be (docs/budgets.md)
    cached = rng.choice((0, 0, min(5, total_in)))
    written = rng.choice((0, 0, min(3, total_in - cached))) if upstream == "anthropic" else 0
    output = rng.choice((0, 1, 42, 100000))
    reasoning = rng.choice((0, min(7, output))) if thinking else 0
    usage = {"input": total_in, "cached": cached, "written": written, "output": output, "reasoning": reasoning}
    answer = Answer(texts, calls, thinking, finish, rng.choice(FINISH[upstream][finish]), usage)
    if upstream == "openai" and not calls and rng.random() < 0.1:
        answer.texts, answer.refusal, answer.finish, answer.spelled = [], edge_text(rng) or "no", "filter", "stop"
    answer.extras = upstream == "anthropic" and rng.random() < 0.3
    answer.calls_first = bool(calls) and rng.random() < 0.3
    if upstream == "gemini" and rng.random() < 0.04:  # a prompt blocked before any candidate
        answer.texts, answer.calls, answer.thinking, answer.finish, answer.spelled = [], [], None, "filter", "blocked"
        answer.usage.update(output=0, reasoning=0)
    return answer


def cuts(text: str, rng: random.Random) -> list[str]:
    """``text`` cut in one to four fragments at random places."""
    points = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(0, 3)))) if len(text) > 1 else []
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


# ---------------------------------------------------------------- the upstream's wire


def openai_usage(a: Answer) -> dict[str, Any]:
    u = a.usage
    return {
        "prompt_tokens": u["input"],
        "completion_tokens": u["output"],
        "total_tokens": u["input"] + u["output"],
        "prompt_tokens_details": {"cached_tokens": u["cached"]},
        "completion_tokens_details": {"reasoning_tokens": u["reasoning"]},
    }


def openai_whole(a: Answer, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": a.text if a.texts else None, "refusal": a.refusal}
    if a.thinking:
        message["reasoning_content"] = a.thinking[0]
    if a.calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(args)}}
            for i, n, args in a.calls
        ]
    logprobs = {
        "content": [{"token": t, "logprob": -0.5, "bytes": list(t.encode()), "top_logprobs": []} for t in a.texts]
    }
    choice = {"index": 0, "message": message, "finish_reason": a.spelled, "logprobs": logprobs if a.texts else None}
    choices = [choice]
    if a.choices > 1:
        second = {**message, "content": a.text + " (2)", "refusal": None, "tool_calls": None}
        choices.append({"index": 1, "message": second, "finish_reason": "stop", "logprobs": None})
    return {
        "id": "chatcmpl-fz",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": choices,
        "usage": openai_usage(a),
    }


def openai_events(a: Answer, model: str, rng: random.Random, usage: bool) -> list[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        body = {
            "id": "chatcmpl-fz",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": [choice],
        }
        return f"data: {json.dumps(body)}\n\n"

    out = [chunk({"role": "assistant", "content": ""})]
    if a.thinking:
        out += [chunk({"reasoning_content": piece}) for piece in cuts(a.thinking[0], rng)]
    out += [chunk({"content": t}) for t in a.texts]
    out += [chunk({"refusal": piece}) for piece in cuts(a.refusal, rng)] if a.refusal else []
    calls: list[list[str]] = []
    for index, (call_id, name, args) in enumerate(a.calls):
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        pieces = [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]}) for p in cuts(json.dumps(args), rng)
        ]
        calls.append([chunk({"tool_calls": [head]}), *pieces])
    if len(calls) > 1 and rng.random() < 0.4:  # parallel calls' fragments interleaved (vLLM, Azure)
        started = 0  # each call's head comes after the one before it (the index order)
        while any(calls):
            ready = [n for n, c in enumerate(calls) if c and n <= started]
            n = rng.choice(ready)
            started += n == started
            out.append(calls[n].pop(0))
    else:
        out += [piece for pieces in calls for piece in pieces]
    out.append(chunk({}, a.spelled))
    if usage:
        body = {
            "id": "chatcmpl-fz",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": [],
            "usage": openai_usage(a),
        }
        out.append(f"data: {json.dumps(body)}\n\n")
    return [*out, "data: [DONE]\n\n"]


def anthropic_usage(a: Answer, output: bool = True) -> dict[str, Any]:
    u = a.usage
    return {
        "input_tokens": u["input"] - u["cached"] - u["written"],
        "cache_read_input_tokens": u["cached"],
        "cache_creation_input_tokens": u["written"],
        "output_tokens": u["output"] if output else min(1, u["output"]),  # message_start: the first token
    }


def anthropic_blocks(a: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if a.thinking:
        blocks.append({"type": "thinking", "thinking": a.thinking[0], "signature": a.thinking[1]})
    texts: list[dict[str, Any]] = [{"type": "text", "text": t, "citations": None} for t in a.texts]
    if not a.calls_first:
        blocks += texts
    if a.extras:
        blocks.insert(0, {"type": "redacted_thinking", "data": "cmVkYWN0ZWQ="})
        search = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q \u00e9"}}
        found = [
            {
                "type": "web_search_result",
                "url": "https://e.test/a",
                "title": "A",
                "encrypted_content": "ZW5j",
                "page_age": None,
            }
        ]
        blocks[1:1] = [search, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": found}]
        cited = {
            "type": "web_search_result_location",
            "url": "https://e.test/a",
            "title": "A",
            "encrypted_index": "aQ==",
            "cited_text": "a",
        }
        for block in blocks:
            if block["type"] == "text" and block["text"]:
                block["citations"] = [cited]
    blocks += [{"type": "tool_use", "id": f"toolu_{i}", "name": n, "input": args} for i, n, args in a.calls]
    if a.calls_first:  # text after the calls (a model may explain what it called)
        blocks += texts
    return blocks


def anthropic_whole(a: Answer, model: str) -> dict[str, Any]:
    return {
        "id": "msg_fz",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": anthropic_blocks(a),
        "stop_reason": a.spelled,
        "stop_sequence": "END" if a.spelled == "stop_sequence" else None,
        "usage": anthropic_usage(a),
    }


def anthropic_events(a: Answer, model: str, rng: random.Random) -> list[str]:
    def event(kind: str, **body: Any) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **body})}\n\n"

    head = {**anthropic_whole(a, model), "content": [], "stop_reason": None, "stop_sequence": None}
    head["usage"] = anthropic_usage(a, output=False)
    out = [event("message_start", message=head), event("ping")]
    for index, block in enumerate(anthropic_blocks(a)):
        kind = block["type"]
        empty = {
            "text": {"text": "", "citations": None},
            "thinking": {"thinking": "", "signature": ""},
            "tool_use": {"input": {}},
        }
        start_block = {**block, **empty.get(kind, {})}
        out.append(event("content_block_start", index=index, content_block=start_block))
        if kind == "text":
            out += [
                event("content_block_delta", index=index, delta={"type": "text_delta", "text": p})
                for p in cuts(block["text"], rng)
            ]
            for citation in block.get("citations") or ():
                out.append(
                    event("content_block_delta", index=index, delta={"type": "citations_delta", "citation": citation})
                )
        elif kind == "thinking":
            out += [
                event("content_block_delta", index=index, delta={"type": "thinking_delta", "thinking": p})
                for p in cuts(block["thinking"], rng)
            ]
            out.append(
                event(
                    "content_block_delta",
                    index=index,
                    delta={"type": "signature_delta", "signature": block["signature"]},
                )
            )
        elif kind in ("tool_use", "server_tool_use"):
            out += [
                event("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": p})
                for p in cuts(json.dumps(block["input"]), rng) or [""]
            ]
        out.append(event("content_block_stop", index=index))
    stop = {"stop_reason": a.spelled, "stop_sequence": "END" if a.spelled == "stop_sequence" else None}
    out.append(event("message_delta", delta=stop, usage={"output_tokens": a.usage["output"]}))
    return [*out, event("message_stop")]


def gemini_usage(a: Answer) -> dict[str, Any]:
    u = a.usage
    usage = {
        "promptTokenCount": u["input"],
        "candidatesTokenCount": u["output"] - u["reasoning"],
        "totalTokenCount": u["input"] + u["output"],
    }
    if u["cached"]:
        usage["cachedContentTokenCount"] = u["cached"]
    if u["reasoning"]:
        usage["thoughtsTokenCount"] = u["reasoning"]
    return usage


def gemini_parts(a: Answer) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if a.thinking:
        parts.append({"text": a.thinking[0], "thought": True, "thoughtSignature": "c2lnbmVk"})
    texts = [{"text": t} for t in a.texts]
    calls = [{"functionCall": {"name": n, "args": args}} for _, n, args in a.calls]
    return parts + (calls + texts if a.calls_first else texts + calls)


def gemini_citations(a: Answer) -> dict[str, Any] | None:
    """Sources of the answer's first bytes (Gemini cites unasked), in bytes of UTF-8."""
    size = len(a.text.encode())
    if size < 4:
        return None
    return {"citationSources": [{"startIndex": 0, "endIndex": size // 2, "uri": "https://e.test/c", "license": ""}]}


def gemini_whole(a: Answer, model: str) -> dict[str, Any]:
    if a.spelled == "blocked":
        return {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": gemini_usage(a), "modelVersion": model}
    candidate = {"content": {"role": "model", "parts": gemini_parts(a)}, "finishReason": a.spelled, "index": 0}
    if gemini_citations(a):
        candidate["citationMetadata"] = gemini_citations(a)
    candidates = [candidate]
    if a.choices > 1:
        second = {
            "content": {"role": "model", "parts": [{"text": a.text + " (2)"}]},
            "finishReason": "STOP",
            "index": 1,
        }
        candidates.append(second)
    return {"candidates": candidates, "usageMetadata": gemini_usage(a), "modelVersion": model, "responseId": "fz"}


def gemini_events(a: Answer, model: str) -> list[str]:
    if a.spelled == "blocked":  # its only fragment
        return [f"data: {json.dumps(gemini_whole(a, model))}\r\n\r\n"]
    parts = gemini_parts(a)
    calls = [p for p in parts if "functionCall" in p]
    rest = [p for p in parts if "functionCall" not in p]
    out = []
    for part in rest:
        fragment = {
            "candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}],
            "modelVersion": model,
            "responseId": "fz",
        }
        out.append(fragment)
    last_parts = calls or [{"text": ""}]
    last = {"content": {"role": "model", "parts": last_parts}, "finishReason": a.spelled, "index": 0}
    if gemini_citations(a):
        last["citationMetadata"] = gemini_citations(a)
    out.append({"candidates": [last], "usageMetadata": gemini_usage(a), "modelVersion": model, "responseId": "fz"})
    return [f"data: {json.dumps(f)}\r\n\r\n" for f in out]


class AnswerServer:
    """Answers each call with its seed's answer, in the dialect of the path called."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.openai)
        app.router.add_post("/openai/deployments/{name}/chat/completions", self.openai)
        app.router.add_post("/v1/messages", self.anthropic)
        app.router.add_post("/v1beta/models/{method}", self.gemini)
        return app

    @staticmethod
    async def read(request: web.Request, upstream: str) -> tuple[Answer, dict[str, Any], random.Random]:
        raw = await request.read()
        found = SEED.search(raw)
        seed = int(found.group(1)) if found else 0
        answer = answer_of(seed, upstream)
        answer.choices = 2 if b"fuzzchoices-2" in raw else 1
        return answer, json.loads(raw), random.Random(seed)

    async def stream(self, request: web.Request, events: list[str]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for text in events:
            await response.write(text.encode())
        await response.write_eof()
        return response

    async def openai(self, request: web.Request) -> web.StreamResponse:
        answer, body, rng = await self.read(request, "openai")
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await self.stream(request, openai_events(answer, body["model"], rng, usage))
        return web.json_response(openai_whole(answer, body.get("model", "m")))

    async def anthropic(self, request: web.Request) -> web.StreamResponse:
        answer, body, rng = await self.read(request, "anthropic")
        if body.get("stream"):
            return await self.stream(request, anthropic_events(answer, body["model"], rng))
        return web.json_response(anthropic_whole(answer, body["model"]))

    async def gemini(self, request: web.Request) -> web.StreamResponse:
        answer, _, _ = await self.read(request, "gemini")
        model, _, method = request.match_info["method"].partition(":")
        if method == "streamGenerateContent":
            return await self.stream(request, gemini_events(answer, model))
        return web.json_response(gemini_whole(answer, model))
