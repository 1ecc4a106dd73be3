"""Translation between wire dialects through one common form: pure functions, no I/O.

This package is what every dialect shares; each dialect's own translation (its requests, responses,
stream decoder and encoder, usage and error readers) is in its package, ``sidecar/dialects/<dialect>/``,
gathered in one ``Translation`` (``bundles``) that the registry lists.

Map of the package::

    __init__      re-exports the facade's functions and the common form's names
    facade        translate_request / translate_response / translate_error,
                  parse_chat_response / build_chat_response (one half of translate_response),
                  new_stream_translator / new_stream_decoder / new_stream_encoder / stream_error_event,
                  extract_usage / extract_stream_usage / extract_request_params,
                  target_operation (the operation a translated request's target is called for)
    common        the common form (TypedDicts for requests and responses, Usage, RequestParams,
                  FinishReason), as_count (a provider's token count read)
    options       TranslationError, UnsupportedParameter, TranslateOptions, Drops
    parts         helpers that read and make parts and turns (turns_of, parse_arguments, result_text,
                  text_of, reasoning_of, new_id, safe_id, dumps, RESPONSE_TOOL)
    media         split_data_uri, guess_media_type
    deltas        the stream deltas (Start, Text, ToolStart, ... End; ``Delta`` their union)
    bundles       Translation: what one dialect's translation provides; ChatForm: a caller's operation
                  other than its chat that is a chat in the common form (OpenAI's Responses API)
    stream        StreamTranslator = a dialect's decoder (upstream events -> deltas)
                                   + a dialect's encoder (deltas -> caller events)
    stream_in     helpers the decoders share        stream_out   helpers the encoders share
    params        helpers the request-parameter readers share
    logprobs      the log-probabilities a chat request asks for, checked once for every target
    numbers       integers beyond 64 bits, carried exactly across a translation
    names         tool names one provider allows and another refuses: mapped for the target and back
    schema        JSON Schema <-> Gemini Schema (Anthropic's structured output uses it too)
    thinking      Thinking: the reasoning a request asks for, in the common form, and the providers' bounds
    shapes        the JSON types of request fields: which field of a body a translator could not read
    errors        reading any upstream error: its message, condition and own code (the facade answers it in
                  the caller's dialect and its provider's words for the condition)

The facade picks each dialect's functions from the registry: nothing here branches on a dialect to pick
behaviour. It is imported on first use of one of its names (``__getattr__``): the dialects' modules
import this package's common form, and the facade imports the registry, which imports the dialects.

Every chat translation is ``parse`` (source dialect -> common form) then ``build`` (common form -> target
dialect); the per-request cost is a walk over plain dicts. Same-dialect traffic is not translated here
(the proxy relays it untouched). ``docs/translation.md`` is the field-by-field table.

Errors: everything raised is a ``TranslationError`` (a ``ValueError``): a body that cannot be read or an
operation with no counterpart, or its subclass ``UnsupportedParameter`` (``.name``) for a parameter with
no equivalent under ``unsupported="error"``. ``translate_error`` and the stream translators never raise.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .bundles import Translation
from .common import ChatResponse, FinishReason, RequestParams, Usage
from .options import TranslateOptions, TranslationError, UnsupportedParameter
from .stream import StreamBroken, StreamDecoder, StreamEncoder, StreamTranslator, decode_event

if TYPE_CHECKING:
    from .facade import (
        build_chat_response,
        extract_request_params,
        extract_stream_usage,
        extract_usage,
        gemini_embedding_method,
        new_stream_decoder,
        new_stream_encoder,
        new_stream_translator,
        parse_chat_response,
        stream_error_event,
        target_operation,
        translate_error,
        translate_request,
        translate_response,
    )

__all__ = [
    "ChatResponse",
    "FinishReason",
    "RequestParams",
    "StreamBroken",
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
    "target_operation",
    "translate_error",
    "translate_request",
    "translate_response",
]


def __getattr__(name: str) -> Any:
    """The facade's functions (the names in ``__all__`` not bound above), imported on first use (see the
    module docstring)."""
    if name in __all__:
        return getattr(importlib.import_module(".facade", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
