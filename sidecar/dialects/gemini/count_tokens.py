"""Token counting: Anthropic ``/v1/messages/count_tokens`` <-> Gemini ``models/{model}:countTokens``.

Requests reuse the chat translation: an Anthropic body becomes ``{"generateContentRequest": {...}}``
(the Gemini form that counts system instruction and tools too; ``output_config.effort``, which a chat
cannot translate, counts no token: dropped, listed); a Gemini body (``contents`` or
``generateContentRequest``) becomes ``model``/``messages``/``system``/``tools``/``tool_choice``.
Responses: ``totalTokens`` <-> ``input_tokens``. OpenAI has no token-counting endpoint. A count that
is missing or not a count (a string, a list, a negative number) is a malformed answer, never read as 0.
"""

from __future__ import annotations

from typing import Any

from ...translate.common import MAX_REPORTED_TOKENS
from ...translate.options import Drops, TranslateOptions, TranslationError
from ..anthropic import request as anthropic
from . import request as gemini

_ANTHROPIC_KEYS = ("model", "messages", "system", "tools", "tool_choice")


def anthropic_to_gemini(body: dict[str, Any], model: str, drops: Drops, options: TranslateOptions) -> dict[str, Any]:
    config = body.get("output_config")
    if isinstance(config, dict) and config.get("effort") is not None:  # how hard to work: no input token
        body = {**body, "output_config": {k: v for k, v in config.items() if k != "effort"}}
        drops.ignored("output_config.effort")
    req = anthropic.parse_request(body, drops)
    inner = gemini.build_request(req, model, drops, options)
    inner.pop("generationConfig", None)
    name = model if model.startswith("models/") else f"models/{model}"
    return {"generateContentRequest": {"model": name, **inner}}


def gemini_to_anthropic(body: dict[str, Any], model: str, drops: Drops, options: TranslateOptions) -> dict[str, Any]:
    inner = body.get("generateContentRequest") or body.get("generate_content_request") or body
    req = gemini.parse_request({k: v for k, v in inner.items() if k != "model"}, drops)
    full = anthropic.build_request(req, model, drops, options)
    return {k: full[k] for k in _ANTHROPIC_KEYS if k in full}


def gemini_response_to_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    return {"input_tokens": _count(body.get("totalTokens"), "totalTokens")}


def anthropic_response_to_gemini(body: dict[str, Any]) -> dict[str, Any]:
    return {"totalTokens": _count(body.get("input_tokens"), "input_tokens")}


def _count(value: Any, name: str) -> int:
    """A token count an answer reports; a ``TranslationError`` (a malformed answer) when it is none."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_REPORTED_TOKENS:
        return value
    raise TranslationError(f"'{name}' is not a token count")
