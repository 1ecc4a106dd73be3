"""The translation facade: ``translate_request`` / ``translate_response`` / ``translate_error``,
``parse_chat_response`` / ``build_chat_response``, ``new_stream_translator`` / ``new_stream_decoder`` /
``new_stream_encoder`` / ``stream_error_event``, ``extract_usage`` / ``extract_stream_usage`` /
``extract_request_params``, ``target_operation``: each picks the dialects' functions from the registry
(``registry.TRANSLATIONS``); re-exported by the package (``from sidecar.translate import ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..dialects import CHAT_OPERATIONS, Dialect, Operation, registry
from ..dialects.errors import ErrorInfo, condition_of
from ..dialects.gemini import embeddings
from ..sse import SSEEvent
from .common import ChatRequest, ChatResponse, RequestParams, Usage
from .errors import read_error
from .names import RenamingDecoder, ToolNames, plan, rename_request, restore_response
from .options import Drops, TranslateOptions, TranslationError, shown
from .params import caller_name
from .shapes import Json, SettingRule, breaks, mismatch
from .stream import StreamDecoder, StreamEncoder, StreamTranslator

gemini_embedding_method = embeddings.gemini_method
"""The method (``embedContent`` / ``batchEmbedContents``) a Gemini embeddings body is for."""


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
) -> tuple[dict[str, Any], list[str], ToolNames | None]:
    """A caller's (``source``) request body as the upstream's (``target``) body, the dropped params, and
    the mapping of the tool names the target refuses (``translate.names``; None when it takes them all):
    give it to ``translate_response`` / ``new_stream_translator`` so the answer has the caller's names.

    For a Gemini target the model and streaming belong to the URL path: the body has neither. For a
    Gemini source the body does not say whether the call streams: pass ``stream`` (True for
    ``streamGenerateContent``); for other sources None means "as the body says".
    """
    drops = Drops(options)
    upstream = registry.TRANSLATIONS[target]
    caller = registry.TRANSLATIONS[source]
    form = caller.forms.get(operation)
    names: ToolNames | None = None
    try:
        if operation in CHAT_OPERATIONS or form is not None:
            req: ChatRequest = (caller.parse_request if form is None else form.parse_request)(body, drops)
            if stream is not None:
                req["stream"] = stream
            if req.get("stream") and req.get("n", 1) != 1:
                drops.unsupported(caller_name(req, "n"), "a translated stream carries one choice")
                req.pop("n", None)
            if upstream.tool_names is not None:
                names = plan(req, upstream.tool_names)
                if names is not None:
                    rename_request(req, names)
            out = upstream.build_request(req, target_model, drops, options)
            if form is None:
                _check_settings(body, caller.chat_settings_rules, caller.chat_settings_shape, source)
            else:
                _check_settings(body, form.settings_rules, form.settings_shape, source)
        else:
            convert = upstream.requests_from.get((operation, source))
            if convert is None:
                raise _no_route(operation, source, target)
            out = convert(body, target_model, drops, options)
    except TranslationError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        wrong = None
        if operation in CHAT_OPERATIONS or form is not None:
            wrong = mismatch(body, caller.chat_request_shape if form is None else form.request_shape)
        raise _malformed(f"{source.value} request body", exc, wrong) from exc
    return out, drops.names, names


def _check_settings(body: dict[str, Any], rules: Mapping[str, SettingRule], shape: Json, source: Dialect) -> None:
    """A setting of the wrong JSON type is a 400 naming the caller's field: a translator copies settings
    unread, so the upstream's 400 would name its own (``max_completion_tokens`` for ``max_tokens``).
    ``rules`` and ``shape``: the settings of the request's shape (``Translation.chat_settings_rules`` and
    ``chat_settings_shape``, or a ``ChatForm``'s)."""
    if breaks(body, rules):
        wrong = mismatch(body, shape)
        if wrong is not None:
            raise TranslationError(f"malformed {source.value} request body: {wrong}")


def _malformed(what: str, exc: Exception, wrong: str | None = None) -> TranslationError:
    """A body a translator could not read, said in words: the field of the wrong JSON type (``wrong``,
    from the dialect's shape), else the field missing, else that some value is not allowed. Never the
    Python exception's text (``'int' object is not iterable``): it reaches the app in a 400."""
    if wrong is not None:
        return TranslationError(f"malformed {what}: {wrong}")
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        return TranslationError(f"malformed {what}: the field {shown(exc.args[0])} is missing")
    return TranslationError(f"malformed {what}: a field has a type or value its API does not allow")


def translate_response(
    body: dict[str, Any],
    *,
    source: Dialect,
    target: Dialect,
    operation: Operation,
    model: str,
    request: dict[str, Any] | None = None,
    names: ToolNames | None = None,
) -> dict[str, Any]:
    """An upstream (``source``) response body as the caller's (``target``) body; ``model`` is reported.

    ``request`` is the caller's request body, which says how some answers are written (OpenAI
    embeddings' ``encoding_format``); None reads as an empty request. ``names``: the request's tool
    names mapping (``translate_request``), undone in the answer's tool calls."""
    upstream = registry.TRANSLATIONS[source]
    form = registry.TRANSLATIONS[target].forms.get(operation)
    try:
        if operation in CHAT_OPERATIONS or form is not None:
            answer = upstream.parse_response(body)
            if names is not None:
                answer = restore_response(answer, names)
            if form is not None:
                return form.build_response(answer, model, request or {})
            return registry.TRANSLATIONS[target].build_response(answer, model)
        convert = upstream.responses_to.get((operation, target))
        if convert is not None:
            return convert(body, model, request or {})
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise _malformed(f"{source.value} response body", exc) from exc
    raise _no_route(operation, source, target)


def translate_error(status: int, body: bytes, *, source: Dialect, target: Dialect) -> tuple[int, dict[str, Any]]:
    """An upstream (``source``) error of HTTP ``status`` as the caller's (``target``): the status and the
    error body its provider sends for the error's condition (read once, as ``resilience.classify`` reads
    it: ``errors.read_error``): the upstream's message, in its provider's type and code, never the
    upstream's own code; the upstream's status unless its provider sends another for the condition
    (``Translation.condition_statuses``: Anthropic's 529 overloaded is OpenAI's and Gemini's 503, a
    quota gone is Anthropic's 402 ``billing_error``, a bad key Gemini's 400)."""
    try:
        message, condition = read_error(source, status, body)
    except Exception:  # the body is garbage of a kind not foreseen: still answer
        message, condition = f"upstream returned HTTP {status}", condition_of(source, status, ErrorInfo())
    translation = registry.TRANSLATIONS[target]
    status = translation.condition_statuses.get(condition, status)
    return status, translation.error_body(status, message, condition=condition)


def stream_error_event(dialect: Dialect, status: int, message: str, *, code: str | None = None) -> bytes:
    """The event that makes the caller's SDK raise after a mid-stream failure, as bytes.

    OpenAI: a ``data: {"error": {...}}`` line (openai-python's ``Stream`` raises ``APIError`` on a
    payload with an ``error`` key; ``code`` is its ``code``); Anthropic: ``event: error`` (the SDK raises
    an ``APIStatusError``; its error has no code); Gemini: a ``data: {"error": {"code", "message",
    "status"}}`` line (google-genai raises ``ClientError``/``ServerError`` on a chunk that starts with
    ``{"error":``; ``code`` is the ``ErrorInfo`` reason in its details, as in error bodies).
    """
    return registry.TRANSLATIONS[dialect].error_event(status, message, code=code).encode()


def extract_usage(dialect: Dialect, body: dict[str, Any]) -> Usage | None:
    """Usage of a non-stream response in ``dialect`` (chat, messages, generateContent, embeddings); None
    when it reports none."""
    if not isinstance(body, dict):
        return None
    return registry.TRANSLATIONS[dialect].usage(body)


def extract_stream_usage(dialect: Dialect, event: SSEEvent, earlier: Usage | None = None) -> Usage | None:
    """The usage of a ``dialect`` stream after one of its events (OpenAI's usage chunk, Anthropic
    ``message_start``/``message_delta``, a Gemini fragment with ``usageMetadata``), given its usage before
    it (``earlier``); None when the event carries none. Each report is a total so far, combined as the
    dialect defines: an Anthropic ``message_delta``'s counts replace ``message_start``'s."""
    return registry.TRANSLATIONS[dialect].stream_usage(event, earlier)


def extract_request_params(dialect: Dialect, body: dict[str, Any]) -> RequestParams:
    """The generation parameters of a ``dialect`` request body (``usage``)."""
    if not isinstance(body, dict):
        return RequestParams()
    return registry.TRANSLATIONS[dialect].request_params(body)


def parse_chat_response(body: dict[str, Any], dialect: Dialect) -> ChatResponse:
    """A ``dialect`` chat answer (chat.completion, message, GenerateContentResponse) in the common form."""
    try:
        return registry.TRANSLATIONS[dialect].parse_response(body)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise _malformed(f"{dialect.value} response body", exc) from exc


def build_chat_response(response: ChatResponse, dialect: Dialect, model: str) -> dict[str, Any]:
    """A common-form answer as a ``dialect`` caller's body; ``model`` is reported."""
    return registry.TRANSLATIONS[dialect].build_response(response, model)


def new_stream_translator(
    *,
    source: Dialect,
    target: Dialect,
    operation: Operation,
    model: str,
    include_usage: bool,
    names: ToolNames | None = None,
    request: dict[str, Any] | None = None,
) -> StreamTranslator:
    """A translator from upstream (``source``) events to caller (``target``) events for one chat stream.

    ``model`` is the name reported to the caller; ``include_usage`` is the OpenAI caller's
    ``stream_options.include_usage`` (other dialects always receive usage); ``names`` the request's
    tool names mapping (``translate_request``), undone in every streamed call; ``request`` the caller's
    request body, which a caller's operation other than its chat echoes (``ChatForm``: the Responses API).
    """
    form = registry.TRANSLATIONS[target].forms.get(operation)
    if operation not in CHAT_OPERATIONS and form is None:
        raise _no_route(operation, source, target)
    decoder = new_stream_decoder(source)
    if names is not None:
        decoder = RenamingDecoder(decoder, names)
    encoder = new_stream_encoder(target, model, include_usage) if form is None else form.encoder(model, request or {})
    return StreamTranslator(decoder, encoder)


def target_operation(operation: Operation, caller: Dialect) -> Operation:
    """The operation a target of another dialect than the ``caller``'s is called for: its chat for a caller's
    operation that is a chat in the common form (``ChatForm``: the Responses API), else ``operation``."""
    form = registry.TRANSLATIONS[caller].forms.get(operation)
    return operation if form is None else form.chat_operation


def new_stream_decoder(source: Dialect) -> StreamDecoder:
    """A decoder of one ``source`` chat stream's events into common deltas (it may raise on an event it
    cannot read: ``StreamTranslator.feed`` shows how to skip one)."""
    return registry.TRANSLATIONS[source].decoder()


def new_stream_encoder(target: Dialect, model: str, include_usage: bool) -> StreamEncoder:
    """An encoder of common deltas into one ``target`` caller's chat stream events."""
    return registry.TRANSLATIONS[target].encoder(model, include_usage)
