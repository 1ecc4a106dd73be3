"""Helpers for reading request parameters from bodies, for telemetry: each dialect's reader
(``Translation.request_params``, in its ``request`` module) is built on these; ``chat_params`` reads
OpenAI's and Anthropic's chat bodies (``translate.extract_request_params`` picks the reader). One strict
reader serves translation: ``stop_list`` (stop sequences, or ``TranslationError`` naming the field);
and two helpers keep the caller's own names of the common request's fields: ``named`` records one,
``caller_name`` gives it back for a refusal or a drop (``ChatRequest.param_names``).

max_tokens, temperature, top_p, top_k, stop sequences, penalties, seed, choice count, stream (Gemini's
stream flag is in the path: None). Read once per traced request (the CLIENT span's
``gen_ai.request.*`` attributes). Usage is read by each dialect's ``*_response`` module (``usage_of``,
``stream_usage``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from .common import ChatRequest, RequestParams
from .options import TranslationError


# Bodies come from orjson, so exact type checks suffice (and exclude bool, a subclass of int).
def number(value: Any) -> float | None:
    kind = type(value)
    return float(value) if kind is float or kind is int else None


def integer(value: Any) -> int | None:
    return value if type(value) is int else None


def stop_list(value: Any, name: str, *, one_string: bool = False) -> list[str]:
    """A chat request's stop sequences, for translating it (``stops`` is telemetry's lenient reader): a list
    of strings (OpenAI also takes one string: ``one_string``), else ``TranslationError`` naming ``name``, so
    a string is never read as one sequence per letter."""
    if value is None:
        return []
    if one_string and isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return value
    raise TranslationError(f"{name!r} must be {'a string or ' if one_string else ''}a list of strings")


def stops(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(s for s in value if isinstance(s, str))
    return ()


# RequestParams from a tuple of every field, without the generated __new__'s keyword handling.
new_params = cast(Callable[[type[RequestParams], tuple[Any, ...]], RequestParams], tuple.__new__)


def chat_params(body: dict[str, Any], openai: bool) -> RequestParams:
    """OpenAI's (``openai``) or Anthropic's parameters. Anthropic has no penalties, seed or choice count,
    and names its stops stop_sequences."""
    get: Callable[[str], Any] = body.get
    model = get("model")
    max_tokens = integer(get("max_completion_tokens")) if openai else None  # OpenAI's newer name wins
    if max_tokens is None:
        max_tokens = integer(get("max_tokens"))
    stop = get("stop" if openai else "stop_sequences")
    stream = get("stream")
    return new_params(
        RequestParams,
        (
            model if type(model) is str else None,
            max_tokens,
            number(get("temperature")),
            number(get("top_p")),
            integer(get("top_k")),
            () if stop is None else stops(stop),
            number(get("frequency_penalty")) if openai else None,
            number(get("presence_penalty")) if openai else None,
            integer(get("seed")) if openai else None,
            integer(get("n")) if openai else None,
            stream if type(stream) is bool else None,
        ),
    )


def caller_name(req: ChatRequest, key: str) -> str:
    """The name the caller's request gave the common field ``key`` (``param_names``), else ``key``."""
    names = req.get("param_names")
    return names.get(key, key) if names else key


def named(req: ChatRequest, key: str, name: str) -> None:
    """Record that the caller sent the common field ``key`` as ``name`` (see ``caller_name``)."""
    if name != key:
        req.setdefault("param_names", {})[key] = name
