"""Reading request parameters from bodies in any dialect, for telemetry: ``openai_params``,
``anthropic_params``, ``gemini_params`` (``translate.extract_request_params`` picks one).

max_tokens, temperature, top_p, top_k, stop sequences, penalties, seed, choice count, stream (Gemini's
stream flag is in the path: None). Read once per traced request (the CLIENT span's
``gen_ai.request.*`` attributes). Usage is read by each dialect's ``*_response`` module (``usage_of``,
``stream_usage``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from .common import RequestParams
from .gemini import camel


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


# RequestParams from a tuple of every field, without the generated __new__'s keyword handling.
_new_params = cast(Callable[[type[RequestParams], tuple[Any, ...]], RequestParams], tuple.__new__)


def openai_params(body: dict[str, Any]) -> RequestParams:
    return _chat_params(body, True)


def anthropic_params(body: dict[str, Any]) -> RequestParams:
    return _chat_params(body, False)


def _chat_params(body: dict[str, Any], openai: bool) -> RequestParams:
    """OpenAI's (``openai``) or Anthropic's parameters. Anthropic has no penalties, seed or choice count,
    and names its stops stop_sequences."""
    get: Callable[[str], Any] = body.get
    model = get("model")
    max_tokens = _int(get("max_completion_tokens")) if openai else None  # OpenAI's newer name wins
    if max_tokens is None:
        max_tokens = _int(get("max_tokens"))
    stop = get("stop" if openai else "stop_sequences")
    stream = get("stream")
    return _new_params(
        RequestParams,
        (
            model if type(model) is str else None,
            max_tokens,
            _num(get("temperature")),
            _num(get("top_p")),
            _int(get("top_k")),
            () if stop is None else _stops(stop),
            _num(get("frequency_penalty")) if openai else None,
            _num(get("presence_penalty")) if openai else None,
            _int(get("seed")) if openai else None,
            _int(get("n")) if openai else None,
            stream if type(stream) is bool else None,
        ),
    )


def gemini_params(body: dict[str, Any]) -> RequestParams:
    model = body.get("model")
    raw = body.get("generationConfig") or body.get("generation_config") or {}
    config = {camel(k): v for k, v in raw.items()} if isinstance(raw, dict) else {}
    return RequestParams(
        model=model if type(model) is str else None,
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
