"""``f4`` of ``sdk_soak.py``: a scripted Gemini upstream whose answers carry what the fake provider's do not,
and whose usage the soak can compute from the prompt alone (``script``).

It answers ``:generateContent`` and ``:streamGenerateContent?alt=sse`` as Gemini does: the fake model's echo
of the last user text (one fragment per word), or a ``functionCall`` to the first tool declared when the
text holds ``fake:tool``; with thinking tokens (``thoughtsTokenCount``), prompt-cache reads
(``cachedContentTokenCount``) and a finish reason drawn from the prompt (``STOP``, ``MAX_TOKENS``, ``OTHER``,
``CONTINUATION``). A stream's ``usageMetadata``, the totals so far as Gemini counts them, is on some
fragments only, drawn from the prompt: on the last (the finish) or, one time in four, on the fragment
before it and not on the last. Faults, from ``[fault:...]`` markers in the prompt (items without a server
name, or ``f4:``): ``context`` (Gemini's 400 ``INVALID_ARGUMENT`` context overflow), ``cut=K`` (a stream
closed after K fragments), ``stall=S`` (before the head), ``stall-mid=K;for=S`` (a pause after K fragments).
``GET /_fake/requests`` is the fake provider's request log (``json``, ``time``, ``ended``); ``POST
/_fake/config`` is taken and ignored (f4 has no default fault).

    .venv/bin/python bench/sdk_soak_gemini.py --port 0 --ports-file PATH
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
    return Script(parts, finish, frozenset(carriers), prompt_tokens, prompt_tokens // 3, thoughts, candidates)


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


def last_user_text(body: dict[str, Any]) -> str:
    for content in reversed(body.get("contents") or []):
        if content.get("role", "user") == "user":
            return "".join(part.get("text", "") for part in content.get("parts") or [] if isinstance(part, dict))
    return ""


def first_tool(body: dict[str, Any]) -> str | None:
    for tool in body.get("tools") or []:
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


def context_overflow(tokens: int) -> web.Response:
    message = f"The input token count ({tokens}) exceeds the maximum number of tokens allowed ({CONTEXT_MAX})."
    error = {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}
    return web.json_response({"error": error}, status=400)


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
        if "stall" in wanted:
            await asyncio.sleep(float(wanted["stall"]))
        if "context" in wanted:
            return context_overflow(CONTEXT_MAX + answer.prompt_tokens)
        if not request.match_info["tail"].endswith(":streamGenerateContent"):
            return web.json_response(whole(answer))
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        pause_after, pause_s = _pause(wanted)
        for index, fragment in enumerate(fragments(answer)):
            if "cut" in wanted and index == int(wanted["cut"] or 1):
                assert request.transport is not None
                request.transport.close()  # no finish, no terminator
                return response
            if index == pause_after:
                await asyncio.sleep(pause_s)
            await response.write(b"data: " + json.dumps(fragment).encode() + b"\r\n\r\n")
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
    app.router.add_get("/_fake/requests", upstream.requests)
    app.router.add_post("/_fake/config", upstream.config)
    return app


async def serve(ports_file: Path) -> None:
    from listening import serve_on_port_zero

    runner = web.AppRunner(build_app(), handler_cancellation=True)  # a caller gone ends its call (``ended``)
    await runner.setup()
    await serve_on_port_zero(runner, ports_file)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)  # always 0: the soak's ``port_zero`` passes it
    parser.add_argument("--ports-file", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.ports_file))


if __name__ == "__main__":
    main()
