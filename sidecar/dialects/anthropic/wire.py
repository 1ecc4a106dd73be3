"""The Anthropic dialect (messages, count_tokens) and the ``anthropic`` provider kind (``base_url``: the
server root; key in ``x-api-key``; ``anthropic-version`` sent when the app did not).

Streams: named events; ``message_start``, ``ping`` and ``content_block_start`` carry no content yet
(held back before the commit point); ``message_stop`` ends the stream; an error is ``event: error``.
The app's own body is relayed with the target's model, and without ``thinking`` when Anthropic would refuse
it (a tool loop whose calling turn another provider answered: ``thinking.unsigned_tool_loop``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from ...sse import SSEEvent
from ...translate.numbers import exact_body
from .. import Dialect, Operation, ProviderKind
from ..base import (
    Endpoint,
    ProviderAPI,
    WireDialect,
    error_raises,
)
from . import bodies as _bodies
from . import features as _features
from .thinking import unsigned_tool_loop
from .translation import TRANSLATION

VERSION = "2023-06-01"
"""The ``anthropic-version`` sent when the app sent none (the API requires one)."""

_PATHS = {
    Operation.CHAT: "/v1/messages",
    Operation.GENERATE_CONTENT: "/v1/messages",
    Operation.COUNT_TOKENS: "/v1/messages/count_tokens",
}
_PREAMBLE = frozenset({"message_start", "ping", "content_block_start"})


class AnthropicWire(WireDialect):
    dialect = Dialect.ANTHROPIC
    name = "Anthropic"
    paths = _PATHS
    endpoints = (
        Endpoint(Dialect.ANTHROPIC, Operation.CHAT, "/v1/messages"),
        Endpoint(Dialect.ANTHROPIC, Operation.COUNT_TOKENS, "/v1/messages/count_tokens"),
    )
    protocol_headers = ("anthropic-", "x-stainless-helper")
    translation = TRANSLATION
    bodies = _bodies
    feature_walkers = _features.WALKERS
    response_id_prefix = "msg_"
    answer_extras = tuple(
        ("usage", name) for name in ("cache_creation", "service_tier", "server_tool_use", "inference_geo", "speed")
    )
    answer_keys = frozenset({"content", "input_tokens"})  # messages; count_tokens
    request_id_header = "request-id"  # its SDK's ``_request_id``
    transport_fields = _bodies.TRANSPORT_FIELDS

    def claims_path(self, path: str, headers: Mapping[str, str] | None) -> bool:
        return path.startswith("/v1/messages") or (headers is not None and "anthropic-version" in headers)

    def model_listing(self, names: Sequence[str], created: int) -> dict[str, Any]:
        data = [self.model_entry(name, created) for name in names]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return {"data": data, "has_more": False, "first_id": first, "last_id": last}

    def model_entry(self, name: str, created: int) -> dict[str, Any]:
        when = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"type": "model", "id": name, "display_name": name, "created_at": when}

    def credentials(self, key: str) -> tuple[str, str]:
        return "x-api-key", key

    def add_protocol_headers(self, headers: dict[str, str]) -> None:
        headers.setdefault("anthropic-version", VERSION)

    def same_dialect_body(
        self, body: dict[str, Any], raw: bytes, model: str, operation: Operation, stream: bool, *, max_tokens: int
    ) -> bytes:
        upstream = exact_body(body, raw).copy()  # an integer beyond 64 bits stays exact (``translate.numbers``)
        upstream["model"] = model
        if operation is Operation.CHAT and body.get("max_tokens") is None:
            # Anthropic requires it; a translated request gets the same (an app sending none works on
            # every target, not only on OpenAI and Gemini ones)
            upstream["max_tokens"] = max_tokens
        if self.same_dialect_drops(body, operation):
            del upstream["thinking"]
        return orjson.dumps(upstream)

    def same_dialect_drops(self, body: dict[str, Any], operation: Operation) -> tuple[str, ...]:
        """``thinking`` on a tool loop whose calling turn another provider answered (``unsigned_tool_loop``)."""
        return ("thinking",) if operation is Operation.CHAT and unsigned_tool_loop(body) else ()

    def finish_translated_body(self, body: dict[str, Any], operation: Operation, stream: bool) -> None:
        if operation in (Operation.CHAT, Operation.GENERATE_CONTENT):
            body["stream"] = stream

    def is_preamble(self, event: SSEEvent) -> bool:
        return event.event in _PREAMBLE

    def is_terminal(self, operation: Operation, event: SSEEvent) -> bool:
        return event.event == "message_stop"

    def may_end(self, operation: Operation, chunk: bytes) -> bool:
        return chunk.find(b"message_stop") >= 0

    def allows_non_json(self, event: SSEEvent) -> bool:
        return event.event == "ping" and not event.data

    def error_event_raises(self, event: SSEEvent) -> bool:
        """The SDK raises on an event named ``error`` (whatever it holds); the message is read from
        ``error.message``."""
        return error_raises(event, name="error")


class AnthropicAPI(ProviderAPI):
    kind = ProviderKind.ANTHROPIC
    otel_name = "anthropic"

    def wire(self, caller: Dialect, speaks: Dialect | None) -> Dialect:
        return Dialect.ANTHROPIC


WIRE = AnthropicWire()
API = AnthropicAPI()
APIS = (API,)
