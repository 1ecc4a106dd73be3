"""Gemini ``generationConfig`` <-> the common form's settings, thinking and response format (pure).

- ``parse_config``: each key (camelCase or snake_case) is a setting (the output maximum and sampling,
  ``_SAMPLING``; ``_parse_setting``: ``stopSequences``, ``candidateCount``, the penalties; each remembered
  under its caller's name, ``translate.params.named``), the response format (``responseMimeType`` with
  ``responseSchema`` or ``responseJsonSchema``, read together by ``_parse_format``), a feature
  (``_parse_feature``: ``thinkingConfig`` by ``thinking``, ``responseModalities`` text only, logprobs by
  ``logprobs``), ignored (``_IGNORED``, listed) or unsupported. Defaults (one candidate, zero penalties,
  no stop sequences) ask for nothing.
- ``build_config``: the settings, thinking, logprobs and the response format (``responseMimeType``
  ``application/json`` with the schema through ``schema.to_gemini``); None when there is nothing to set.
  More ``stopSequences`` than Gemini takes (``GEMINI_MAX_STOPS``) cannot be translated.
"""

from __future__ import annotations

from typing import Any

from ...translate.common import ChatRequest
from ...translate.options import Drops, TranslationError
from ...translate.params import caller_name, named, stop_list
from ...translate.schema import described, to_gemini, to_json_schema
from .keys import camel
from .logprobs import CONFIG_KEYS as LOGPROBS_KEYS
from .logprobs import add_to_config as add_logprobs
from .logprobs import read_config as read_logprobs
from .thinking import build_thinking, parse_thinking

GEMINI_MAX_STOPS = 5
"""Gemini takes at most this many ``stopSequences``. More cannot be translated (in either ``unsupported``
mode: it is a limit, not a missing parameter), so a route's next target serves the request; Gemini's own
400 would have ended the route (a 400 does not fall back)."""

_SAMPLING = {
    "maxOutputTokens": "max_tokens",
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "seed": "seed",
}
_PENALTIES = {"presencePenalty": "presence_penalty", "frequencyPenalty": "frequency_penalty"}
_SETTINGS = frozenset((*_PENALTIES, "stopSequences", "candidateCount"))
_FEATURES = frozenset(("thinkingConfig", "responseModalities", *LOGPROBS_KEYS))
_IGNORED = frozenset(("mediaResolution", "enableEnhancedCivicAnswers"))
# The common form's settings and their generationConfig names, in the order they are written.
_WRITTEN = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("seed", "seed"),
    ("n", "candidateCount"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
)


# ---------------------------------------------------------------------------------------------------------
# Reading


def parse_config(value: Any, req: ChatRequest, drops: Drops) -> None:
    mime = None
    schema: Any = None
    for raw_key, v in value.items():
        key = camel(raw_key)
        if v is None:
            continue
        if key in _SAMPLING:  # the most frequent: read here, without a call
            req[_SAMPLING[key]] = v  # type: ignore[literal-required]
            named(req, _SAMPLING[key], key)
        elif key in _SETTINGS:
            _parse_setting(key, v, req)
        elif key == "responseMimeType":
            if not isinstance(v, str):  # it is named in a refusal's text: a number there was a 500
                raise TranslationError("generationConfig.responseMimeType: must be a string")
            mime = v
        elif key == "responseSchema":
            schema = to_json_schema(v)
        elif key in ("responseJsonSchema", "_responseJsonSchema"):
            schema = v
        elif key in _FEATURES:
            _parse_feature(key, v, req, drops)
        elif key in _IGNORED:
            drops.ignored(key)
        else:
            drops.unsupported(f"generationConfig.{key}")
    if mime is not None:
        _parse_format(mime, schema, req, drops)


def _parse_setting(key: str, v: Any, req: ChatRequest) -> None:
    """One of the answer's other settings (``_SETTINGS``), remembered under the caller's name."""
    if key == "stopSequences":
        if stop := stop_list(v, key):
            req["stop"] = stop
            named(req, "stop", key)
    elif key == "candidateCount":
        if v != 1:
            req["n"] = v
            named(req, "n", key)
    elif v != 0:  # a penalty
        common = _PENALTIES[key]
        req[common] = v  # type: ignore[literal-required]
        named(req, common, key)


def _parse_feature(key: str, v: Any, req: ChatRequest, drops: Drops) -> None:
    """Thinking, the response's modalities (text only), logprobs (``_FEATURES``)."""
    if key == "thinkingConfig":
        if isinstance(v, dict):
            parse_thinking({camel(k): x for k, x in v.items()}, req, drops)
        else:
            drops.unsupported(key)
    elif key == "responseModalities":
        if [str(m).upper() for m in v] != ["TEXT"]:
            drops.unsupported("responseModalities")
    else:
        read_logprobs(req, key, v)


def _parse_format(mime: str, schema: Any, req: ChatRequest, drops: Drops) -> None:
    """``responseMimeType`` and the schema, read together: JSON (with a schema or without), or plain text."""
    if mime == "application/json":
        req["response_format"] = (
            {"kind": "json_schema", "schema": schema, "name": "response"}
            if schema
            else {"kind": "json_object", "schema": None, "name": "response"}
        )
    elif mime != "text/plain":
        drops.unsupported("responseMimeType", mime)


# ---------------------------------------------------------------------------------------------------------
# Writing


def build_config(req: ChatRequest, drops: Drops) -> dict[str, Any] | None:
    config: dict[str, Any] = {}
    if "max_tokens" in req:
        config["maxOutputTokens"] = req["max_tokens"]
    for src, dst in _WRITTEN:
        if src in req:
            config[dst] = req[src]  # type: ignore[literal-required]
    stop = req.get("stop")
    if stop and len(stop) > GEMINI_MAX_STOPS:
        name = caller_name(req, "stop")
        raise TranslationError(f"{name!r}: Gemini takes at most {GEMINI_MAX_STOPS} stop sequences, {len(stop)} given")
    if stop:
        config["stopSequences"] = stop
    build_thinking(req, config, drops)
    add_logprobs(req, config)
    fmt = req.get("response_format")
    if fmt is not None:
        config["responseMimeType"] = "application/json"
        if fmt["schema"]:
            config["responseSchema"] = described(to_gemini(fmt["schema"]), fmt.get("description"))
        elif fmt.get("description"):
            drops.unsupported("response_format.json_schema.description", "Gemini describes a response by its schema")
    return config or None
