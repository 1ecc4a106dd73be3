"""The Gemini dialect's translation functions, gathered in one ``Translation`` (``TRANSLATION``)."""

from __future__ import annotations

from typing import Any

from ...translate.bundles import Translation
from ...translate.names import ToolNameRule
from ...translate.options import Drops, TranslateOptions
from ...translate.stream import StreamEncoder
from .. import Dialect, Operation
from . import count_tokens, embeddings, request, response, searches, shape
from .decoder import GeminiDecoder
from .encoder import GeminiEncoder


def _gemini_embeddings_from_openai(
    body: dict[str, Any], model: str, drops: Drops, options: TranslateOptions
) -> dict[str, Any]:
    return embeddings.openai_to_gemini(body, model, drops)


def _gemini_count_to_anthropic(body: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]:
    return count_tokens.gemini_response_to_anthropic(body)


def _gemini_encoder(model: str, include_usage: bool) -> StreamEncoder:
    return GeminiEncoder(model)  # usage always goes to a Gemini caller


GEMINI_TOOL_NAMES = ToolNameRule("A-Za-z0-9_.:-", 64, first="A-Za-z_")
"""Gemini's: a letter or ``_`` first, then letters, digits, ``_ . : -``; at most 64 characters."""

TRANSLATION = Translation(
    tool_names=GEMINI_TOOL_NAMES,
    chat_request_shape=shape.CHAT_REQUEST,
    parse_request=request.parse_request,
    build_request=request.build_request,
    parse_response=response.parse_response,
    build_response=response.build_response,
    decoder=GeminiDecoder,
    encoder=_gemini_encoder,
    usage=response.usage_of,
    stream_usage=response.stream_usage,
    stream_usage_key=response.STREAM_USAGE_KEY,
    stream_searches=searches.stream_searches,
    request_params=request.gemini_params,
    error_body=response.error_body,
    error_event=response.error_event,
    condition_statuses=response.CONDITION_STATUSES,
    requests_from={
        (Operation.EMBEDDINGS, Dialect.OPENAI): _gemini_embeddings_from_openai,
        (Operation.COUNT_TOKENS, Dialect.ANTHROPIC): count_tokens.anthropic_to_gemini,
    },
    responses_to={
        (Operation.EMBEDDINGS, Dialect.OPENAI): embeddings.gemini_response_to_openai,
        (Operation.COUNT_TOKENS, Dialect.ANTHROPIC): _gemini_count_to_anthropic,
    },
)
