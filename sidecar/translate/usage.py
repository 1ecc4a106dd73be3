"""Reading usage and request parameters from bodies in any dialect, for cost and telemetry.

- ``extract_usage``: a non-stream response (chat, messages, generateContent, embeddings) -> ``Usage``.
- ``extract_stream_usage``: one event of a same-dialect passthrough stream -> ``Usage`` if it carries
  any (OpenAI's usage chunk, Anthropic ``message_start``/``message_delta``, a Gemini fragment with
  ``usageMetadata``). Counts are cumulative: combine successive ones with ``Usage.merge``. Events
  without usage are rejected by a byte search before any JSON parsing.
- ``extract_request_params``: max_tokens, temperature, top_p, top_k, stop sequences, penalties, seed,
  choice count, stream (Gemini's stream flag is in the path: None).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, cast

import orjson

from ..dialects import Dialect
from ..sse import SSEEvent
from . import anthropic_response, gemini_response, openai_response
from .common import RequestParams, Usage
from .gemini import camel


def extract_usage(dialect: Dialect, body: dict[str, Any]) -> Usage | None:
    """Usage of a non-stream response in ``dialect``; None when it reports none."""
    if not isinstance(body, dict):
        return None
    if dialect is Dialect.OPENAI:
        return openai_response.usage_from(body.get("usage"))
    if dialect is Dialect.ANTHROPIC:
        return anthropic_response.usage_from(body.get("usage"))
    return gemini_response.usage_from(body.get("usageMetadata"))


def extract_stream_usage(dialect: Dialect, event: SSEEvent) -> Usage | None:
    """Usage carried by one event of a ``dialect`` stream, if any."""
    data = event.data
    try:
        if dialect is Dialect.OPENAI:
            if b'"usage"' not in data or b'"usage":null' in data or b'"usage": null' in data:
                return None
            obj = orjson.loads(data)
            return openai_response.usage_from(obj.get("usage")) if isinstance(obj, dict) else None
        if dialect is Dialect.ANTHROPIC:
            if event.event not in ("message_start", "message_delta") and b'"usage"' not in data:
                return None
            obj = orjson.loads(data)
            if not isinstance(obj, dict):
                return None
            raw = (obj.get("message") or {}).get("usage") if obj.get("type") == "message_start" else obj.get("usage")
            return anthropic_response.usage_from(raw)
        if b'"usageMetadata"' not in data:
            return None
        obj = orjson.loads(data)
        return gemini_response.usage_from(obj.get("usageMetadata")) if isinstance(obj, dict) else None
    except (orjson.JSONDecodeError, AttributeError):
        return None


# Bodies come from orjson, so exact type checks suffice (and exclude bool, a subclass of int).
def _num(value: Any) -> float | None:
    kind = type(value)
    return float(value) if kind is float or kind is int else None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _stops(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(s for s in value if isinstance(s, str))
    return ()


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


# Body key -> (RequestParams field index, converter), per dialect. A request carries a few of these keys
# at most: finding them with one set intersection and converting only those into a list that becomes the
# tuple costs about half of looking up every field and calling the constructor with keywords.
_FIELD = {name: index for index, name in enumerate(RequestParams._fields)}
_NEWER_MAX_TOKENS = len(RequestParams._fields)  # an extra slot: OpenAI's max_completion_tokens wins
_OPENAI_PARAMS: dict[str, tuple[int, Callable[[Any], Any]]] = {
    "max_tokens": (_FIELD["max_tokens"], _int),
    "max_completion_tokens": (_NEWER_MAX_TOKENS, _int),
    "temperature": (_FIELD["temperature"], _num),
    "top_p": (_FIELD["top_p"], _num),
    "top_k": (_FIELD["top_k"], _int),
    "stop": (_FIELD["stop_sequences"], _stops),
    "frequency_penalty": (_FIELD["frequency_penalty"], _num),
    "presence_penalty": (_FIELD["presence_penalty"], _num),
    "seed": (_FIELD["seed"], _int),
    "n": (_FIELD["choice_count"], _int),
    "stream": (_FIELD["stream"], _bool),
}
_ANTHROPIC_PARAMS: dict[str, tuple[int, Callable[[Any], Any]]] = {
    "max_tokens": (_FIELD["max_tokens"], _int),
    "temperature": (_FIELD["temperature"], _num),
    "top_p": (_FIELD["top_p"], _num),
    "top_k": (_FIELD["top_k"], _int),
    "stop_sequences": (_FIELD["stop_sequences"], _stops),
    "stream": (_FIELD["stream"], _bool),
}
_OPENAI_KEYS = frozenset(_OPENAI_PARAMS)
_ANTHROPIC_KEYS = frozenset(_ANTHROPIC_PARAMS)
_NO_PARAMS: list[Any] = [*RequestParams(), None]
# RequestParams._make without its Python-level frame and length check (the list always has every field).
_new_params = cast(Callable[[list[Any]], RequestParams], partial(tuple.__new__, RequestParams))


def extract_request_params(dialect: Dialect, body: dict[str, Any]) -> RequestParams:
    """The generation parameters of a ``dialect`` request body."""
    if not isinstance(body, dict):
        return RequestParams()
    model = body.get("model")
    if type(model) is not str:
        model = None
    if dialect is Dialect.GEMINI:
        raw = body.get("generationConfig") or body.get("generation_config") or {}
        config = {camel(k): v for k, v in raw.items()} if isinstance(raw, dict) else {}
        return RequestParams(
            model=model,
            max_tokens=_int(config.get("maxOutputTokens")),
            temperature=_num(config.get("temperature")),
            top_p=_num(config.get("topP")),
            top_k=_int(config.get("topK")),
            stop_sequences=_stops(config.get("stopSequences")),
            frequency_penalty=_num(config.get("frequencyPenalty")),
            presence_penalty=_num(config.get("presencePenalty")),
            seed=_int(config.get("seed")),
            choice_count=_int(config.get("candidateCount")),
        )
    table, keys = (
        (_ANTHROPIC_PARAMS, _ANTHROPIC_KEYS) if dialect is Dialect.ANTHROPIC else (_OPENAI_PARAMS, _OPENAI_KEYS)
    )
    values = _NO_PARAMS.copy()
    values[0] = model
    for key in keys.intersection(body):
        index, convert = table[key]
        values[index] = convert(body[key])
    newer = values.pop()
    if newer is not None:
        values[_FIELD["max_tokens"]] = newer
    return _new_params(values)
