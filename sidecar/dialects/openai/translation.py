"""The OpenAI dialect's translation functions, gathered in one ``Translation`` (``TRANSLATION``), the
Responses API's among them (``RESPONSES``, a ``ChatForm``)."""

from __future__ import annotations

from typing import Any

from ...translate.bundles import ChatForm, Translation
from ...translate.names import ToolNameRule
from ...translate.options import Drops, TranslateOptions
from .. import Dialect, Operation
from ..gemini import embeddings
from . import request, response, responses_answer, responses_request, responses_shape, searches, shape
from .decoder import OpenAIDecoder
from .encoder import OpenAIEncoder
from .responses_encoder import ResponsesEncoder


def _openai_embeddings_from_gemini(
    body: dict[str, Any], model: str, drops: Drops, options: TranslateOptions
) -> dict[str, Any]:
    return embeddings.gemini_to_openai(body, model, drops)


def _openai_embeddings_to_gemini(body: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]:
    return embeddings.openai_response_to_gemini(body, request)


RESPONSES = ChatForm(
    parse_request=responses_request.parse_request,
    build_response=responses_answer.build_response,
    encoder=ResponsesEncoder,
    request_shape=responses_shape.RESPONSES_REQUEST,
)
"""The Responses API, served by a target of another dialect as its chat."""

OPENAI_TOOL_NAMES = ToolNameRule("A-Za-z0-9_-", 64)
"""OpenAI's ``^[a-zA-Z0-9_-]{1,64}$``."""

TRANSLATION = Translation(
    tool_names=OPENAI_TOOL_NAMES,
    chat_request_shape=shape.CHAT_REQUEST,
    parse_request=request.parse_request,
    build_request=request.build_request,
    parse_response=response.parse_response,
    build_response=response.build_response,
    decoder=OpenAIDecoder,
    encoder=OpenAIEncoder,
    usage=response.usage_of,
    stream_usage=response.stream_usage,
    stream_searches=searches.stream_searches,
    request_params=request.openai_params,
    error_body=response.error_body,
    error_event=response.error_event,
    condition_statuses=response.CONDITION_STATUSES,
    requests_from={(Operation.EMBEDDINGS, Dialect.GEMINI): _openai_embeddings_from_gemini},
    responses_to={(Operation.EMBEDDINGS, Dialect.GEMINI): _openai_embeddings_to_gemini},
    forms={Operation.RESPONSES: RESPONSES},
)
