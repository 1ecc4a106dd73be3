"""Translation between the OpenAI, Anthropic and Gemini wire formats: pure functions, no I/O.

Map of the package::

    __init__      this facade: translate_request / translate_response / translate_error,
                  parse_chat_response / build_chat_response (one half of translate_response),
                  new_stream_translator / new_stream_decoder / new_stream_encoder / stream_error_event,
                  extract_usage / extract_stream_usage / extract_request_params
    common        the common form (TypedDicts for requests and responses, Usage, RequestParams,
                  FinishReason, stream deltas), TranslateOptions, Drops, UnsupportedParameter
    openai        chat-completions requests   <-> common    openai_response     responses, usage,
    anthropic     messages requests           <-> common    anthropic_response  finish reasons, error
    gemini        generateContent requests    <-> common    gemini_response     bodies and events
    schema        JSON Schema <-> Gemini Schema
    embeddings    OpenAI /v1/embeddings <-> Gemini embedContent / batchEmbedContents
    count_tokens  Anthropic count_tokens <-> Gemini countTokens
    stream        StreamTranslator = stream_in decoder (upstream events -> deltas)
                                   + stream_out encoder (deltas -> caller events)
    errors        reading any upstream error (the facade answers it in the caller's dialect)
    usage         request-parameter readers per dialect
    bundles       TRANSLATIONS: each dialect's functions gathered in one ``Translation``

The facade picks each dialect's functions from its bundle: nothing here branches on a dialect to pick
behaviour. A dialect's object (``dialects``) refers to the same bundle.

Every chat translation is ``parse`` (source dialect -> common form) then ``build`` (common form -> target
dialect); the per-request cost is a walk over plain dicts. Same-dialect traffic is not translated here
(the proxy relays it untouched). ``docs/translation.md`` is the field-by-field table.

Errors: everything raised is a ``TranslationError`` (a ``ValueError``): a body that cannot be read or an
operation with no counterpart, or its subclass ``UnsupportedParameter`` (``.name``) for a parameter with
no equivalent under ``unsupported="error"``. ``translate_error`` and the stream translators never raise.
"""

from __future__ import annotations

from typing import Any

from ..dialects import CHAT_OPERATIONS, Dialect, Operation
from ..sse import SSEEvent
from .bundles import TRANSLATIONS, Translation
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
from .errors import read_error
from .stream import (
    StreamDecoder,
    StreamEncoder,
    StreamTranslator,
    decode_event,
    new_stream_decoder,
    new_stream_encoder,
)
from .stream import new_stream_translator as _new_stream_translator

__all__ = [
    "ChatResponse",
    "FinishReason",
    "RequestParams",
    "StreamDecoder",
    "StreamEncoder",
    "StreamTranslator",
    "TranslateOptions",
    "Translation",
    "TranslationError",
    "UnsupportedParameter",
    "Usage",
    "build_chat_response",
    "decode_event",
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
    upstream = TRANSLATIONS[target]
    try:
        if operation in CHAT_OPERATIONS:
            req: ChatRequest = TRANSLATIONS[source].parse_request(body, drops)
            if stream is not None:
                req["stream"] = stream
            if req.get("stream") and req.get("n", 1) != 1:
                drops.unsupported("n", "a translated stream carries one choice")
                req.pop("n", None)
            out = upstream.build_request(req, target_model, drops, options)
        else:
            convert = upstream.requests_from.get((operation, source))
            if convert is None:
                raise _no_route(operation, source, target)
            out = convert(body, target_model, drops, options)
    except TranslationError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise TranslationError(f"malformed {source.value} request body: {exc!r}") from exc
    return out, drops.names


def translate_response(
    body: dict[str, Any], *, source: Dialect, target: Dialect, operation: Operation, model: str
) -> dict[str, Any]:
    """An upstream (``source``) response body as the caller's (``target``) body; ``model`` is reported."""
    upstream = TRANSLATIONS[source]
    try:
        if operation in CHAT_OPERATIONS:
            return TRANSLATIONS[target].build_response(upstream.parse_response(body), model)
        convert = upstream.responses_to.get((operation, target))
        if convert is not None:
            return convert(body, model)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise TranslationError(f"malformed {source.value} response body: {exc!r}") from exc
    raise _no_route(operation, source, target)


def translate_error(status: int, body: bytes, *, source: Dialect, target: Dialect) -> dict[str, Any]:
    """An upstream (``source``) error body as the caller's (``target``) error body; keeps the message."""
    try:
        message, code = read_error(status, body)
    except Exception:  # the body is garbage of a kind not foreseen: still answer
        message, code = f"upstream returned HTTP {status}", None
    return TRANSLATIONS[target].error_body(status, message, code=code)


def stream_error_event(dialect: Dialect, status: int, message: str) -> bytes:
    """The event that makes the caller's SDK raise after a mid-stream failure, as bytes.

    OpenAI: a ``data: {"error": {...}}`` line (openai-python's ``Stream`` raises ``APIError`` on a
    payload with an ``error`` key); Anthropic: ``event: error`` (the SDK raises an ``APIStatusError``);
    Gemini: a ``data: {"error": {"code", "message", "status"}}`` line (google-genai raises
    ``ClientError``/``ServerError`` on a chunk that starts with ``{"error":``).
    """
    return TRANSLATIONS[dialect].error_event(status, message).encode()


def extract_usage(dialect: Dialect, body: dict[str, Any]) -> Usage | None:
    """Usage of a non-stream response in ``dialect`` (chat, messages, generateContent, embeddings); None
    when it reports none."""
    if not isinstance(body, dict):
        return None
    return TRANSLATIONS[dialect].usage(body)


def extract_stream_usage(dialect: Dialect, event: SSEEvent) -> Usage | None:
    """Usage carried by one event of a ``dialect`` stream, if any (OpenAI's usage chunk, Anthropic
    ``message_start``/``message_delta``, a Gemini fragment with ``usageMetadata``). Counts are
    cumulative: combine successive ones with ``Usage.merge``."""
    return TRANSLATIONS[dialect].stream_usage(event)


def extract_request_params(dialect: Dialect, body: dict[str, Any]) -> RequestParams:
    """The generation parameters of a ``dialect`` request body (``usage``)."""
    if not isinstance(body, dict):
        return RequestParams()
    return TRANSLATIONS[dialect].request_params(body)


def parse_chat_response(body: dict[str, Any], dialect: Dialect) -> ChatResponse:
    """A ``dialect`` chat answer (chat.completion, message, GenerateContentResponse) in the common form."""
    try:
        return TRANSLATIONS[dialect].parse_response(body)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise TranslationError(f"malformed {dialect.value} response body: {exc!r}") from exc


def build_chat_response(response: ChatResponse, dialect: Dialect, model: str) -> dict[str, Any]:
    """A common-form answer as a ``dialect`` caller's body; ``model`` is reported."""
    return TRANSLATIONS[dialect].build_response(response, model)


def new_stream_translator(
    *, source: Dialect, target: Dialect, operation: Operation, model: str, include_usage: bool
) -> StreamTranslator:
    """A per-stream translator from upstream (``source``) events to caller (``target``) events."""
    if operation not in CHAT_OPERATIONS:
        raise _no_route(operation, source, target)
    return _new_stream_translator(source=source, target=target, model=model, include_usage=include_usage)
