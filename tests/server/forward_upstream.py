"""The provider end of the passthrough tests (tests/server/test_forward*.py): a real HTTP server on
loopback that answers the paths the sidecar does not interpret as OpenAI, Anthropic and Google answer
them (enough for their SDKs to parse), and records what it received: method, path, raw query, headers
and the body (whole, or for a large one its size and digest).

Paths with a behaviour of their own: ``/v1/audio/speech`` streams ``SPEECH_BYTES`` in chunks;
``/v1/files/{id}/content`` answers ``DOWNLOAD_BYTES`` bytes (``?size=N``: N); ``/v1/reset`` sends its
head and part of its body, then closes the connection; ``/v1/redirect`` answers 307 to another path;
``/v1/sse`` sends one server-sent event, then its last once ``Recorder.go_on`` is set;
``/v1/responses/resp_1`` (and its ``/input_items``) answers a stored response; ``/v1/files`` with
``anthropic-version`` answers as Anthropic's Files API;
a request with ``x-goog-api-key`` is google-genai's: ``/upload/.../files`` speaks the resumable protocol
(its ``x-goog-upload-url`` on this server), ``models/{m}:batchGenerateContent`` and ``batches/{id}``
answer the batch ``GEMINI_BATCH``, any other path answers the file ``files/f-1``.
``Recorder.cut`` is set when a request's body broke off (its client went away).

``stack_fixture`` (the ``stack`` fixture of tests/server/conftest.py) starts one with a sidecar whose
policy (``policy_text``) forwards to it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..conftest import RunningSidecar, SidecarFactory

SPEECH_BYTES = bytes(range(256)) * 400  # 100 KiB of "audio"
DOWNLOAD_BYTES = b"line of the file\n" * 1000
KEEP_BODY = 1024 * 1024  # bodies up to this size are kept whole
GEMINI_BATCH = {
    "name": "batches/b-1",
    "metadata": {"model": "models/m", "displayName": "nightly", "state": "BATCH_STATE_PENDING"},
}


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    size: int
    sha256: str


@dataclass
class Recorder:
    received: list[Received] = field(default_factory=list)
    cut: asyncio.Event = field(default_factory=asyncio.Event)
    go_on: asyncio.Event = field(default_factory=asyncio.Event)  # ``/v1/sse`` sends its last event once set
    base: str = ""

    def app(self) -> web.Application:
        app = web.Application(client_max_size=0)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        digest, size, kept = hashlib.sha256(), 0, bytearray()
        try:
            async for chunk in request.content.iter_any():
                digest.update(chunk)
                size += len(chunk)
                if size <= KEEP_BODY:
                    kept += chunk
        except (ConnectionError, asyncio.CancelledError):
            self.cut.set()
            raise
        if request.content.exception() is not None or (
            request.content_length is not None and size < request.content_length
        ):
            self.cut.set()
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.received.append(
            Received(
                request.method,
                request.path,
                request.rel_url.raw_query_string,
                headers,
                bytes(kept),
                size,
                digest.hexdigest(),
            )
        )
        return await self._answer(request, size)

    async def _answer(self, request: web.Request, size: int) -> web.StreamResponse:
        path, method = request.path, request.method
        if path == "/v1/audio/speech":
            return await _stream(request, SPEECH_BYTES, "audio/mpeg")
        if path.startswith("/v1/files/") and path.endswith("/content"):
            count = int(request.query.get("size", len(DOWNLOAD_BYTES)))
            return await _stream(
                request, (DOWNLOAD_BYTES * (count // len(DOWNLOAD_BYTES) + 1))[:count], "application/octet-stream"
            )
        if path == "/v1/reset":
            response = web.StreamResponse(headers={"content-type": "application/octet-stream"})
            await response.prepare(request)
            await response.write(b"x" * 1000)
            assert request.transport is not None
            request.transport.close()
            return response
        if path == "/v1/sse":
            return await self._events(request)
        if path == "/v1/redirect":
            return web.Response(status=307, headers={"location": f"{self.base}/v1/elsewhere"})
        if "x-goog-api-key" in request.headers:  # google-genai's: its version's paths (/v1beta/ or /v1/)
            return self._gemini(request, size)
        if "anthropic-version" in request.headers and path == "/v1/files":  # the Anthropic SDK's beta.files
            return web.json_response(_anthropic_file(size) if method == "POST" else _anthropic_files(size))
        body = _body_of(method, path, size)
        return web.json_response(body, status=404 if "error" in body else 200, headers=_extra_headers(path))

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the first at once, the last once ``go_on`` is set."""
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"n": 1}\n\n')
        await self.go_on.wait()
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def _gemini(self, request: web.Request, size: int) -> web.Response:
        if request.path.endswith(":batchGenerateContent") or "/batches/" in request.path:
            return web.json_response(GEMINI_BATCH)  # batches.create's operation, batches.get's
        file = {"name": "files/f-1", "mimeType": "text/plain", "sizeBytes": str(size), "state": "ACTIVE"}
        if not request.path.startswith("/upload/"):
            return web.json_response(file)  # files.get
        command = request.headers.get("x-goog-upload-command", "")
        if command == "start":
            url = f"{self.base}{request.path}?upload_id=up-1"
            return web.json_response({}, headers={"x-goog-upload-url": url, "x-goog-upload-status": "active"})
        return web.json_response({"file": file}, headers={"x-goog-upload-status": "final"})


async def _stream(request: web.Request, data: bytes, content_type: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": content_type, "x-request-id": "req_up"})
    await response.prepare(request)
    for start in range(0, len(data), 64 * 1024):
        await response.write(data[start : start + 64 * 1024])
    await response.write_eof()
    return response


def _extra_headers(path: str) -> dict[str, str]:
    return {"x-request-id": "req_up", "openai-organization": "org-of-the-key", "set-cookie": "s=1", "x-up": path}


def _anthropic_file(size: int) -> dict[str, Any]:
    named = {"id": "file_a1", "type": "file", "filename": "notes.txt", "mime_type": "text/plain"}
    return {**named, "size_bytes": size, "created_at": "2026-12-06T00:00:00Z"}


def _anthropic_files(size: int) -> dict[str, Any]:
    return {"data": [_anthropic_file(size)], "has_more": False, "first_id": "file_a1", "last_id": "file_a1"}


RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "model": "m",
    "status": "completed",
    "output": [],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
}
INPUT_ITEM = {
    "id": "msg_1",
    "type": "message",
    "role": "user",
    "status": "completed",
    "content": [{"type": "input_text", "text": "hi"}],
}


def _body_of(method: str, path: str, size: int) -> dict[str, Any]:
    """What the provider answers at ``path``: a body its SDK parses."""
    if path == "/v1/responses/resp_1":
        return RESPONSE
    if path == "/v1/responses/resp_1/input_items":
        return {"object": "list", "data": [INPUT_ITEM], "first_id": "msg_1", "last_id": "msg_1", "has_more": False}
    if path == "/v1/audio/transcriptions":
        return {"text": f"heard {size} bytes"}
    if path == "/v1/moderations":
        return {
            "id": "modr-1",
            "model": "omni-moderation-latest",
            "results": [{"flagged": False, "categories": {}, "category_scores": {}}],
        }
    if path == "/v1/files":
        file = {
            "id": "file-1",
            "object": "file",
            "bytes": size,
            "created_at": 1,
            "filename": "a.jsonl",
            "purpose": "batch",
            "status": "uploaded",
        }
        return file if method == "POST" else {"object": "list", "data": [file], "has_more": False}
    if path == "/v1/chat/completions":
        return {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
    if path.startswith("/v1/messages/batches"):
        counts = {"processing": 1, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        times = {"created_at": "2026-12-06T00:00:00Z", "expires_at": "2026-12-07T00:00:00Z"}
        ended = dict.fromkeys(("ended_at", "archived_at", "cancel_initiated_at", "results_url"))
        batch = {"id": "msgbatch_1", "type": "message_batch", "processing_status": "in_progress"}
        return {**batch, "request_counts": counts, **times, **ended}
    return {"error": {"message": f"no such path {path}", "type": "invalid_request_error"}}


KEYS = {"OPENAI_KEY": "sk-sidecar-openai", "ANTHROPIC_KEY": "sk-sidecar-anthropic", "GEMINI_KEY": "g-sidecar"}

Stack = Callable[..., Awaitable[tuple[RunningSidecar, Recorder]]]


def policy_text(base: str, passthrough: str | None = None, extra: str = "") -> str:
    """Three providers at ``base`` (OpenAI's under ``/v1``), one model, ``passthrough`` (by default an
    entry per dialect), and ``extra`` top-level blocks."""
    if passthrough is None:
        passthrough = (
            "  - {dialect: openai, provider: openai, paths: [/v1/audio/, /v1/moderations, /v1/files,"
            " /v1/chat/completions, /v1/responses, /v1/reset, /v1/redirect, /v1/sse]}\n"
            "  - {dialect: anthropic, provider: anthropic, paths: [/v1/messages/batches, /v1/files]}\n"
            "  - {dialect: gemini, provider: gemini, paths: [/upload/, /v1/files, /v1beta/files]}\n"
        )
    return (
        "version: 1\nproviders:\n"
        f"  openai: {{kind: openai, base_url: '{base}/v1', api_key: {{env: OPENAI_KEY}}}}\n"
        f"  anthropic: {{kind: anthropic, base_url: '{base}', api_key: {{env: ANTHROPIC_KEY}}}}\n"
        f"  gemini: {{kind: gemini, base_url: '{base}', api_key: {{env: GEMINI_KEY}}}}\n"
        "models:\n  m: {provider: openai, model: m}\n" + extra + (f"passthrough:\n{passthrough}" if passthrough else "")
    )


def stack_fixture(aiohttp_server: Any, sidecar: SidecarFactory) -> Stack:
    """A recording provider and a sidecar forwarding to it (``policy_text``'s entries, or those given, and
    ``extra`` blocks; the sidecar's ``settings``)."""

    async def start(
        passthrough: str | None = None, extra: str = "", **settings: Any
    ) -> tuple[RunningSidecar, Recorder]:
        recorder = Recorder()
        server = await aiohttp_server(recorder.app())
        recorder.base = str(server.make_url("")).rstrip("/")
        return await sidecar(policy_text(recorder.base, passthrough, extra), env=KEYS, **settings), recorder

    return start
