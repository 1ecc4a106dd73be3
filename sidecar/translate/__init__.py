"""Translation between the OpenAI, Anthropic and Gemini wire formats: pure functions, no I/O.

Map of the package::

    __init__      this facade: translate_request / translate_response / translate_error,
                  parse_chat_response / build_chat_response (one half of translate_response),
                  new_stream_translator / new_stream_decoder / new_stream_encoder / stream_error_event,
                  extract_usage / extract_stream_usage / extract_request_params
    common        the common form (TypedDicts for requests and responses, Usage, RequestParams,
                  FinishReason, stream deltas), TranslateOptions, Drops, UnsupportedParameter
    openai        chat-completions requests   <-> common    openai_response     responses, usage,
    anthropic     messages requests           <-> common    anthropic_response  finish reasons
    gemini        generateContent requests    <-> common    gemini_response     (shared with streams)
    schema        JSON Schema <-> Gemini Schema
    embeddings    OpenAI /v1/embeddings <-> Gemini embedContent / batchEmbedContents
    count_tokens  Anthropic count_tokens <-> Gemini countTokens
    stream        StreamTranslator = stream_in decoder (upstream events -> deltas)
                                   + stream_out encoder (deltas -> caller events)
    errors        error bodies and in-stream error events
    usage         usage and request-parameter extraction

Every chat translation is ``parse`` (source dialect -> common form) then ``build`` (common form -> target
dialect); the per-request cost is a walk over plain dicts. Same-dialect traffic is not translated here
(the proxy relays it untouched). ``docs/translation.md`` is the field-by-field table.

Errors: everything raised is a ``TranslationError`` (a ``ValueError``): a body that cannot be read or an
operation with no counterpart, or its subclass ``UnsupportedParameter`` (``.name``) for a parameter with
no equivalent under ``unsupported="error"``. ``translate_error`` and the stream translators never raise.
"""

from __future__ import annotations

from typing import Any

from ..dialects import Dialect, Operation
from . import (
    anthropic,
    anthropic_response,
    count_tokens,
    embeddings,
    gemini,
    gemini_response,
    openai,
    openai_response,
)
from .common import (
    ChatRequest,
    ChatResponse,
    Drops,
    FinishReason,
    RequestParams,
    TranslateOptions,
    TranslationError,
    UnsupportedParameter,
    Usage,
)
from .embeddings import gemini_method as gemini_embedding_method
from .errors import stream_error_event, translate_error
from .stream import StreamDecoder, StreamEncoder, StreamTranslator, new_stream_decoder, new_stream_encoder
from .stream import new_stream_translator as _new_stream_translator
from .usage import extract_request_params, extract_stream_usage, extract_usage

__all__ = [
    "ChatResponse",
    "FinishReason",
    "RequestParams",
    "StreamDecoder",
    "StreamEncoder",
    "StreamTranslator",
    "TranslateOptions",
    "TranslationError",
    "UnsupportedParameter",
    "Usage",
    "build_chat_response",
    "extract_request_params",
    "extract_stream_usage",
    "extract_usage",
    "gemini_embedding_method",
    "new_stream_decoder",
    "new_stream_encoder",
    "new_stream_translator",
    "parse_chat_response",
    "stream_error_event",
    "translate_error",
    "translate_request",
    "translate_response",
]

_CHAT_OPS = (Operation.CHAT, Operation.GENERATE_CONTENT)

_PARSE_REQUEST = {
    Dialect.OPENAI: openai.parse_request,
    Dialect.ANTHROPIC: anthropic.parse_request,
    Dialect.GEMINI: gemini.parse_request,
}
_BUILD_REQUEST = {
    Dialect.OPENAI: openai.build_request,
    Dialect.ANTHROPIC: anthropic.build_request,
    Dialect.GEMINI: gemini.build_request,
}
_PARSE_RESPONSE = {
    Dialect.OPENAI: openai_response.parse_response,
    Dialect.ANTHROPIC: anthropic_response.parse_response,
    Dialect.GEMINI: gemini_response.parse_response,
}
_BUILD_RESPONSE = {
    Dialect.OPENAI: openai_response.build_response,
    Dialect.ANTHROPIC: anthropic_response.build_response,
    Dialect.GEMINI: gemini_response.build_response,
}


def _no_route(operation: Operation, source: Dialect, target: Dialect) -> TranslationError:
    return TranslationError(f"{operation.value} cannot be translated from {source.value} to {target.value}")


def translate_request(
    body: dict[str, Any],
    *,
    source: Dialect,
    target: Dialect,
    operation: Operation,
    target_model: str,
    options: TranslateOptions,
    stream: bool | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """A caller's (``source``) request body as the upstream's (``target``) body, and the dropped params.

    For a Gemini target the model and streaming belong to the URL path: the body has neither. For a
    Gemini source the body does not say whether the call streams: pass ``stream`` (True for
    ``streamGenerateContent``); for other sources None means "as the body says".
    """
    drops = Drops(options)
    try:
        if operation in _CHAT_OPS:
            req: ChatRequest = _PARSE_REQUEST[source](body, drops)
            if stream is not None:
                req["stream"] = stream
            if req.get("stream") and req.get("n", 1) != 1:
                drops.unsupported("n", "a translated stream carries one choice")
                req.pop("n", None)
            out = _BUILD_REQUEST[target](req, target_model, drops, options)
        elif operation is Operation.EMBEDDINGS and (source, target) == (Dialect.OPENAI, Dialect.GEMINI):
            out = embeddings.openai_to_gemini(body, target_model, drops)
        elif operation is Operation.EMBEDDINGS and (source, target) == (Dialect.GEMINI, Dialect.OPENAI):
            out = embeddings.gemini_to_openai(body, target_model, drops)
        elif operation is Operation.COUNT_TOKENS and (source, target) == (Dialect.ANTHROPIC, Dialect.GEMINI):
            out = count_tokens.anthropic_to_gemini(body, target_model, drops, options)
        elif operation is Operation.COUNT_TOKENS and (source, target) == (Dialect.GEMINI, Dialect.ANTHROPIC):
            out = count_tokens.gemini_to_anthropic(body, target_model, drops, options)
        else:
            raise _no_route(operation, source, target)
    except TranslationError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise TranslationError(f"malformed {source.value} request body: {exc!r}") from exc
    return out, drops.names


def translate_response(
    body: dict[str, Any], *, source: Dialect, target: Dialect, operation: Operation, model: str
) -> dict[str, Any]:
    """An upstream (``source``) response body as the caller's (``target``) body; ``model`` is reported."""
    try:
        if operation in _CHAT_OPS:
            resp: ChatResponse = _PARSE_RESPONSE[source](body)
            return _BUILD_RESPONSE[target](resp, model)
        if operation is Operation.EMBEDDINGS and (source, target) == (Dialect.OPENAI, Dialect.GEMINI):
            return embeddings.openai_response_to_gemini(body)
        if operation is Operation.EMBEDDINGS and (source, target) == (Dialect.GEMINI, Dialect.OPENAI):
            return embeddings.gemini_response_to_openai(body, model)
        if operation is Operation.COUNT_TOKENS and (source, target) == (Dialect.GEMINI, Dialect.ANTHROPIC):
            return count_tokens.gemini_response_to_anthropic(body)
        if operation is Operation.COUNT_TOKENS and (source, target) == (Dialect.ANTHROPIC, Dialect.GEMINI):
            return count_tokens.anthropic_response_to_gemini(body)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise TranslationError(f"malformed {source.value} response body: {exc!r}") from exc
    raise _no_route(operation, source, target)


def parse_chat_response(body: dict[str, Any], dialect: Dialect) -> ChatResponse:
    """A ``dialect`` chat answer (chat.completion, message, GenerateContentResponse) in the common form."""
    try:
        return _PARSE_RESPONSE[dialect](body)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise TranslationError(f"malformed {dialect.value} response body: {exc!r}") from exc


def build_chat_response(response: ChatResponse, dialect: Dialect, model: str) -> dict[str, Any]:
    """A common-form answer as a ``dialect`` caller's body; ``model`` is reported."""
    return _BUILD_RESPONSE[dialect](response, model)


def new_stream_translator(
    *, source: Dialect, target: Dialect, operation: Operation, model: str, include_usage: bool
) -> StreamTranslator:
    """A per-stream translator from upstream (``source``) events to caller (``target``) events."""
    if operation not in _CHAT_OPS:
        raise _no_route(operation, source, target)
    return _new_stream_translator(source=source, target=target, model=model, include_usage=include_usage)
