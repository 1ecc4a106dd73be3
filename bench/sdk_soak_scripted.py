"""``f4`` of ``sdk_soak.py``: a scripted Gemini and Anthropic upstream whose answers carry what the fake
provider's do not, and whose usage the soak can compute from the prompt alone (``script``).

It answers ``:generateContent`` and ``:streamGenerateContent?alt=sse`` as Gemini does: the fake model's echo
of the last user text (one fragment per word), or a ``functionCall`` to the first tool declared when the
text holds ``fake:tool``; with thinking tokens (``thoughtsTokenCount``), prompt-cache reads
(``cachedContentTokenCount``) and a finish reason drawn from the prompt (``STOP``, ``MAX_TOKENS``, ``OTHER``,
``CONTINUATION``). A stream's ``usageMetadata``, the totals so far as Gemini counts them, is on some
fragments only, drawn from the prompt: on the last (the finish) or, one time in four, on the fragment
before it and not on the last. It answers ``/v1/messages`` as Anthropic does, the same text or call and
counts, with prompt-cache writes besides (``cache_creation_input_tokens``, a part of them for an hour),
thinking tokens in ``output_tokens_details`` and a stop reason drawn from the prompt (``end_turn``,
``max_tokens``, ``pause_turn``, ``model_context_window_exceeded``); a stream's ``message_delta`` repeats
the input counts or not, as drawn. Faults, from ``[fault:...]`` markers in the prompt (items without a server
name, or ``f4:``): ``context`` (the provider's 400 context overflow), ``cut=K`` (a stream
closed after K fragments), ``stall=S`` (before the head), ``stall-mid=K;for=S`` (a pause after K fragments).
``GET /_fake/requests`` is the fake provider's request log (``json``, ``time``, ``ended``); ``POST
/_fake/config`` is taken and ignored (f4 has no default fault).

    .venv/bin/python bench/sdk_soak_scripted.py --port 0 --ports-file PATH
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

NAME = "f4"
FINISHES = ("STOP",) * 7 + ("MAX_TOKENS", "OTHER", "CONTINUATION")
STOP_REASONS = ("end_turn",) * 6 + ("max_tokens", "pause_turn", "model_context_window_exceeded")
TOOL_OUTPUT_TOKENS = 4
CONTEXT_MAX = 1_048_576


@dataclass(frozen=True)
class Script:
    """What f4 answers a prompt: its fragments' parts, which fragments carry usage, the final counts."""

    parts: tuple[tuple[dict[str, Any], ...], ...]  # one tuple of parts per fragment
    finish: str
    carriers: frozenset[int]  # the fragments with ``usageMetadata``
    prompt_tokens: int
    cached_tokens: int
    thoughts_tokens: int
    candidates_tokens: int
    stop_reason: str  # Anthropic's
    writes: int  # Anthropic's prompt-cache writes (a part of ``prompt_tokens``), ``writes_1h`` of them for an hour
    writes_1h: int
    delta_repeats_input: bool  # an Anthropic stream's ``message_delta`` repeats the input counts

    def usage(self, fragment: int) -> dict[str, int]:
        """The totals so far at ``fragment`` (the last carrier has the final ones)."""
        last = fragment >= max(self.carriers)
        candidates = self.candidates_tokens if last else min(fragment + 1, self.candidates_tokens)
        return {
            "promptTokenCount": self.prompt_tokens,
            "candidatesTokenCount": candidates,
            "thoughtsTokenCount": self.thoughts_tokens,
            "cachedContentTokenCount": self.cached_tokens,
            "totalTokenCount": self.prompt_tokens + candidates + self.thoughts_tokens,
        }

    @property
    def output_tokens(self) -> int:
        """Output as the sidecar counts it: candidates and thoughts."""
        return self.candidates_tokens + self.thoughts_tokens


def script(text: str, tool: str | None) -> Script:
    """f4's answer to the last user text ``text`` (``tool``: the first function declared, when the text asks
    for a call). The same text always gets the same answer."""
    rng = random.Random(text)
    prompt_tokens = 10 + len(text) // 4
    if tool is not None and "fake:tool" in text:
        parts: tuple[tuple[dict[str, Any], ...], ...] = (({"functionCall": {"name": tool, "args": {"city": "test"}}},),)
        finish, candidates = "STOP", TOOL_OUTPUT_TOKENS
    else:
        parts = tuple(({"text": piece},) for piece in re.findall(r"\S+\s*", text) or [text])
        finish, candidates = rng.choice(FINISHES), len(parts)
    last = len(parts) - 1
    carriers = {index for index in range(last) if rng.random() < 0.5}
    carriers.add(last - 1 if last and rng.random() < 0.25 else last)
    thoughts = 3 + len(text) % 5
    stop_reason = "tool_use" if finish == "STOP" and "functionCall" in parts[0][0] else rng.choice(STOP_REASONS)
    writes = prompt_tokens // 4
    return Script(
        parts,
        finish,
        frozenset(carriers),
        prompt_tokens,
        prompt_tokens // 3,
        thoughts,
        candidates,
        stop_reason,
        writes,
        writes // 2,
        rng.random() < 0.5,
    )


def fragments(answer: Script) -> list[dict[str, Any]]:
    """The stream's fragments (the last has the finish reason; a carrier has the usage so far)."""
    out = []
    for index, parts in enumerate(answer.parts):
        candidate: dict[str, Any] = {"content": {"parts": list(parts), "role": "model"}, "index": 0}
        if index == len(answer.parts) - 1:
            candidate["finishReason"] = answer.finish
        fragment: dict[str, Any] = {"candidates": [candidate], "modelVersion": "f4", "responseId": "f4-answer"}
        if index in answer.carriers:
            fragment["usageMetadata"] = answer.usage(index)
        out.append(fragment)
    return out


def whole(answer: Script) -> dict[str, Any]:
    """The unstreamed answer: every part in one candidate, the final counts."""
    parts = [part for fragment in answer.parts for part in fragment]
    text = "".join(part.get("text", "") for part in parts)
    parts = [{"text": text}] if all("text" in part for part in parts) else parts
    candidate = {"content": {"parts": parts, "role": "model"}, "index": 0, "finishReason": answer.finish}
    usage = answer.usage(max(answer.carriers))
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "f4", "responseId": "f4-answer"}


def anthropic_usage(answer: Script) -> dict[str, Any]:
    """An Anthropic answer's final counts (``input_tokens``: the prompt neither read from nor written to its cache)."""
    fresh = answer.prompt_tokens - answer.cached_tokens - answer.writes
    split = {
        "ephemeral_5m_input_tokens": answer.writes - answer.writes_1h,
        "ephemeral_1h_input_tokens": answer.writes_1h,
    }
    return {
        "input_tokens": fresh,
        "cache_read_input_tokens": answer.cached_tokens,
        "cache_creation_input_tokens": answer.writes,
        "cache_creation": split,
        "output_tokens": answer.output_tokens,
        "output_tokens_details": {"thinking_tokens": answer.thoughts_tokens},
    }


def anthropic_blocks(answer: Script) -> list[dict[str, Any]]:
    parts = [part for fragment in answer.parts for part in fragment]
    if "functionCall" in parts[0]:
        call = parts[0]["functionCall"]
        return [{"type": "tool_use", "id": "toolu_f4", "name": call["name"], "input": call["args"]}]
    return [{"type": "text", "text": "".join(part["text"] for part in parts)}]


def anthropic_whole(answer: Script) -> dict[str, Any]:
    return {
        "id": "msg_f4",
        "type": "message",
        "role": "assistant",
        "model": "claude-d",
        "content": anthropic_blocks(answer),
        "stop_reason": answer.stop_reason,
        "stop_sequence": None,
        "usage": anthropic_usage(answer),
    }


def anthropic_events(answer: Script) -> list[bytes]:
    """The stream: ``message_start`` (the input counts, output 1), one block's events, ``message_delta``
    (the output, and the input counts again when drawn so), ``message_stop``."""
    usage = anthropic_usage(answer)
    start = {**anthropic_whole(answer), "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"message": start})]
    block = anthropic_blocks(answer)[0]
    if block["type"] == "tool_use":
        events.append(("content_block_start", {"index": 0, "content_block": {**block, "input": {}}}))
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events.append(("content_block_delta", {"index": 0, "delta": delta}))
    else:
        events.append(("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
        for fragment in answer.parts:
            delta = {"type": "text_delta", "text": fragment[0]["text"]}
            events.append(("content_block_delta", {"index": 0, "delta": delta}))
    events.append(("content_block_stop", {"index": 0}))
    repeated = usage if answer.delta_repeats_input else {"output_tokens": usage["output_tokens"]}
    delta = {"stop_reason": answer.stop_reason, "stop_sequence": None}
    events += [("message_delta", {"delta": delta, "usage": repeated}), ("message_stop", {})]
    return [f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode() for kind, data in events]


def last_user_text(body: dict[str, Any]) -> str:
    """The last user turn's text: Anthropic's ``messages`` (a string or text blocks), Gemini's ``contents``."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            blocks = content if isinstance(content, list) else [{"text": content}]
            return "".join(str(block.get("text", "")) for block in blocks if isinstance(block, dict))
    for content in reversed(body.get("contents") or []):
        if content.get("role", "user") == "user":
            return "".join(part.get("text", "") for part in content.get("parts") or [] if isinstance(part, dict))
    return ""


def first_tool(body: dict[str, Any]) -> str | None:
    for tool in body.get("tools") or []:
        if "name" in tool:  # Anthropic's
            return str(tool["name"])
        for declaration in tool.get("functionDeclarations") or tool.get("function_declarations") or []:
            return str(declaration["name"])
    return None


def faults(text: str) -> dict[str, str]:
    """f4's fault items in the text's ``[fault:...]`` markers: kind -> the spec's rest (``cut=2`` -> ``2``)."""
    found: dict[str, str] = {}
    for marker in re.findall(r"\[fault:([^\]]*)\]", text):
        for item in marker.split(","):
            server, _, spec = item.rpartition(":")
            if server in ("", NAME):
                kind, _, value = spec.partition("=")
                found[kind] = value
    return found


def context_overflow(anthropic: bool, tokens: int) -> web.Response:
    """The provider's own 400 for a prompt too long (the words docs/resilience.md recognizes)."""
    if anthropic:
        error = {"type": "invalid_request_error", "message": f"prompt is too long: {tokens} tokens > 200000 maximum"}
        return web.json_response({"type": "error", "error": error}, status=400)
    message = f"The input token count ({tokens}) exceeds the maximum number of tokens allowed ({CONTEXT_MAX})."
    return web.json_response({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}, status=400)


class Upstream:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def generate(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        record = {"path": request.path, "json": body, "time": time.time(), "ended": None}
        self.records = [*self.records[-999:], record]
        try:
            return await self._answer(request, body)
        finally:
            record["ended"] = time.time()

    async def _answer(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        text = last_user_text(body)
        wanted = faults(text)
        answer = script(text, first_tool(body))
        anthropic = request.path == "/v1/messages"
        if "stall" in wanted:
            await asyncio.sleep(float(wanted["stall"]))
        if "context" in wanted:
            return context_overflow(anthropic, CONTEXT_MAX + answer.prompt_tokens)
        streamed = body.get("stream") is True if anthropic else request.path.endswith(":streamGenerateContent")
        if not streamed:
            return web.json_response(anthropic_whole(answer) if anthropic else whole(answer))
        if anthropic:
            events = anthropic_events(answer)
        else:
            events = [b"data: " + json.dumps(fragment).encode() + b"\r\n\r\n" for fragment in fragments(answer)]
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        pause_after, pause_s = _pause(wanted)
        for index, event in enumerate(events):
            if "cut" in wanted and index == int(wanted["cut"] or 1):
                assert request.transport is not None
                request.transport.close()  # no finish, no terminator
                return response
            if index == pause_after:
                await asyncio.sleep(pause_s)
            await response.write(event)
            await asyncio.sleep(0.003)
        await response.write_eof()
        return response

    async def requests(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", len(self.records)))
        return web.json_response(self.records[-limit:] if limit else [])

    async def config(self, request: web.Request) -> web.Response:
        return web.json_response({})


def _pause(wanted: dict[str, str]) -> tuple[int, float]:
    """``stall-mid=K;for=S``: pause S seconds after K fragments (-1: never)."""
    if "stall-mid" not in wanted:
        return -1, 0.0
    count, _, options = wanted["stall-mid"].partition(";")
    seconds = options.partition("for=")[2] if "for=" in options else ""
    return int(count or 1), float(seconds or 1)


def build_app() -> web.Application:
    upstream = Upstream()
    app = web.Application()
    app.router.add_post("/v1beta/models/{tail}", upstream.generate)
    app.router.add_post("/v1/messages", upstream.generate)
    app.router.add_get("/_fake/requests", upstream.requests)
    app.router.add_post("/_fake/config", upstream.config)
    return app


async def serve(ports_file: Path) -> None:
    from listening import serve_until_stopped

    runner = web.AppRunner(build_app(), handler_cancellation=True)  # a caller gone ends its call (``ended``)
    await serve_until_stopped(runner, ports_file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)  # always 0: the soak's ``port_zero`` passes it
    parser.add_argument("--ports-file", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.ports_file))


if __name__ == "__main__":
    main()
