"""Model listings: ``GET /v1/models`` (OpenAI, or Anthropic when the request has ``anthropic-version``,
or Gemini when it has ``x-goog-api-key`` or ``x-goog-api-client``), ``GET /v1/models/{id}``, and
Gemini's ``GET /v1beta/models`` and ``/v1beta/models/{model}``.

The lists are a fixed few names; every endpoint accepts any model name.
"""

from __future__ import annotations

from typing import Any

from sidecar.fake_provider.replies import Call, JsonReply, Reply

OPENAI_MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "text-embedding-3-small", "text-embedding-3-large")
ANTHROPIC_MODELS = ("claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-6")
GEMINI_MODELS = ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-embedding-001", "text-embedding-004")
_CREATED = 1_700_000_000


def _openai(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": _CREATED, "owned_by": "fake-provider"}


def _anthropic(model: str) -> dict[str, Any]:
    name = model.replace("-", " ").title()
    return {"type": "model", "id": model, "display_name": name, "created_at": "2025-09-29T00:00:00Z"}


def _gemini(model: str) -> dict[str, Any]:
    methods = (
        ["embedContent", "batchEmbedContents"]
        if "embedding" in model
        else [
            "generateContent",
            "streamGenerateContent",
            "countTokens",
        ]
    )
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model,
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": methods,
    }


def openai_models(call: Call) -> Reply:
    return JsonReply({"object": "list", "data": [_openai(model) for model in OPENAI_MODELS]})


def anthropic_models(call: Call) -> Reply:
    data = [_anthropic(model) for model in ANTHROPIC_MODELS]
    return JsonReply({"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]})


def openai_model(call: Call) -> Reply:
    return JsonReply(_openai(call.path_params["target"]))


def anthropic_model(call: Call) -> Reply:
    return JsonReply(_anthropic(call.path_params["target"]))


def gemini_models(call: Call) -> Reply:
    return JsonReply({"models": [_gemini(model) for model in GEMINI_MODELS]})


def gemini_model(call: Call) -> Reply:
    return JsonReply(_gemini(call.path_params["target"]))
