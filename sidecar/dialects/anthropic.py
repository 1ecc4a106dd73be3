"""The Anthropic dialect (messages, count_tokens) and the ``anthropic`` provider kind (``base_url``: the
server root; key in ``x-api-key``; ``anthropic-version`` sent when the app did not).

Streams: named events; ``message_start``, ``ping`` and ``content_block_start`` carry no content yet
(held back before the commit point); ``message_stop`` ends the stream; an error is ``event: error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..sse import SSEEvent
from ..translate import anthropic as chat_request
from ..translate import anthropic_response, count_tokens, stream_in, stream_out
from ..translate.common import Drops, TranslateOptions
from ..translate.usage import anthropic_params
from . import Dialect, Operation, ProviderKind
from .base import (
    Endpoint,
    ProviderAPI,
    Translation,
    WireDialect,
    error_raises,
)

VERSION = "2023-06-01"
"""The ``anthropic-version`` sent when the app sent none (the API requires one)."""

_PATHS = {
    Operation.CHAT: "/v1/messages",
    Operation.GENERATE_CONTENT: "/v1/messages",
    Operation.COUNT_TOKENS: "/v1/messages/count_tokens",
}
_PREAMBLE = frozenset({"message_start", "ping", "content_block_start"})


def _count_from_gemini(body: dict[str, Any], model: str, drops: Drops, options: TranslateOptions) -> dict[str, Any]:
    return count_tokens.gemini_to_anthropic(body, model, drops, options)


def _count_to_gemini(body: dict[str, Any], model: str) -> dict[str, Any]:
    return count_tokens.anthropic_response_to_gemini(body)


def _anthropic_encoder(model: str, include_usage: bool) -> stream_out.AnthropicEncoder:
    return stream_out.AnthropicEncoder(model)  # usage always goes to Anthropic callers


class AnthropicWire(WireDialect):
    dialect = Dialect.ANTHROPIC
    name = "Anthropic"
    paths = _PATHS
    endpoints = (
        Endpoint(Dialect.ANTHROPIC, Operation.CHAT, "/v1/messages"),
        Endpoint(Dialect.ANTHROPIC, Operation.COUNT_TOKENS, "/v1/messages/count_tokens"),
    )
    protocol_headers = ("anthropic-", "x-stainless-helper")
    translation = Translation(
        parse_request=chat_request.parse_request,
        build_request=chat_request.build_request,
        parse_response=anthropic_response.parse_response,
        build_response=anthropic_response.build_response,
        decoder=stream_in.AnthropicDecoder,
        encoder=_anthropic_encoder,
        usage=anthropic_response.usage_of,
        stream_usage=anthropic_response.stream_usage,
        request_params=anthropic_params,
        error_body=anthropic_response.error_body,
        error_event=anthropic_response.error_event,
        requests_from={(Operation.COUNT_TOKENS, Dialect.GEMINI): _count_from_gemini},
        responses_to={(Operation.COUNT_TOKENS, Dialect.GEMINI): _count_to_gemini},
    )

    def claims_path(self, path: str, headers: Mapping[str, str] | None) -> bool:
        return path.startswith("/v1/messages") or (headers is not None and "anthropic-version" in headers)

    def credentials(self, key: str) -> tuple[str, str]:
        return "x-api-key", key

    def add_protocol_headers(self, headers: dict[str, str]) -> None:
        headers.setdefault("anthropic-version", VERSION)

    def same_dialect_body(
        self, body: dict[str, Any], raw: bytes, model: str, operation: Operation, stream: bool
    ) -> bytes:
        upstream = dict(body)
        upstream["model"] = model
        return orjson.dumps(upstream)

    def finish_translated_body(self, body: dict[str, Any], operation: Operation, stream: bool) -> None:
        if operation in (Operation.CHAT, Operation.GENERATE_CONTENT):
            body["stream"] = stream

    def is_preamble(self, event: SSEEvent) -> bool:
        return event.event in _PREAMBLE

    def is_terminal(self, operation: Operation, event: SSEEvent) -> bool:
        return event.event == "message_stop"

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
