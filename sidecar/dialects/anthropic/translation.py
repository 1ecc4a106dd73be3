"""The Anthropic dialect's translation functions, gathered in one ``Translation`` (``TRANSLATION``)."""

from __future__ import annotations

from typing import Any

from ...translate.bundles import Translation
from ...translate.names import ToolNameRule
from ...translate.stream import StreamEncoder
from .. import Dialect, Operation
from ..gemini import count_tokens
from . import request, response, searches, shape
from .decoder import AnthropicDecoder
from .encoder import AnthropicEncoder


def _anthropic_count_to_gemini(body: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]:
    return count_tokens.anthropic_response_to_gemini(body)


def _anthropic_encoder(model: str, include_usage: bool) -> StreamEncoder:
    return AnthropicEncoder(model)  # usage always goes to an Anthropic caller


ANTHROPIC_TOOL_NAMES = ToolNameRule("A-Za-z0-9_-", 128)
"""Anthropic's ``^[a-zA-Z0-9_-]{1,128}$``."""

TRANSLATION = Translation(
    tool_names=ANTHROPIC_TOOL_NAMES,
    chat_request_shape=shape.CHAT_REQUEST,
    parse_request=request.parse_request,
    build_request=request.build_request,
    parse_response=response.parse_response,
    build_response=response.build_response,
    decoder=AnthropicDecoder,
    encoder=_anthropic_encoder,
    usage=response.usage_of,
    stream_usage=response.stream_usage,
    stream_searches=searches.stream_searches,
    request_params=request.anthropic_params,
    error_body=response.error_body,
    error_event=response.error_event,
    condition_statuses=response.CONDITION_STATUSES,
    requests_from={(Operation.COUNT_TOKENS, Dialect.GEMINI): count_tokens.gemini_to_anthropic},
    responses_to={(Operation.COUNT_TOKENS, Dialect.GEMINI): _anthropic_count_to_gemini},
)
