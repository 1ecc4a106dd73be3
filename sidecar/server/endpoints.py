"""What each proxied path means: the caller's dialect, the operation, and where the model is.

The table is the whole API surface the app's SDK may call. Gemini puts the model and the method in the
path (``/v1beta/models/gemini-2.0-flash:streamGenerateContent``), so one route per Gemini
version parses the tail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..dialects import Dialect, Operation


@dataclass(frozen=True, slots=True)
class Endpoint:
    dialect: Dialect
    operation: Operation
    path: str  # the route's path (``routes.Router``)
    model_in_path: bool = False


OPENAI_ENDPOINTS = (
    Endpoint(Dialect.OPENAI, Operation.CHAT, "/v1/chat/completions"),
    Endpoint(Dialect.OPENAI, Operation.TEXT_COMPLETION, "/v1/completions"),
    Endpoint(Dialect.OPENAI, Operation.EMBEDDINGS, "/v1/embeddings"),
    Endpoint(Dialect.OPENAI, Operation.RESPONSES, "/v1/responses"),
    # AzureOpenAI SDK pointed at the sidecar: the deployment name is the requested model.
    Endpoint(Dialect.OPENAI, Operation.CHAT, "/openai/deployments/{model}/chat/completions", True),
    Endpoint(Dialect.OPENAI, Operation.EMBEDDINGS, "/openai/deployments/{model}/embeddings", True),
)
ANTHROPIC_ENDPOINTS = (
    Endpoint(Dialect.ANTHROPIC, Operation.CHAT, "/v1/messages"),
    Endpoint(Dialect.ANTHROPIC, Operation.COUNT_TOKENS, "/v1/messages/count_tokens"),
)
GEMINI_PATHS = ("/v1beta/models/{tail}", "/v1/models/{tail}")

# Gemini method -> (operation, streams)
GEMINI_METHODS = {
    "generateContent": (Operation.GENERATE_CONTENT, False),
    "streamGenerateContent": (Operation.GENERATE_CONTENT, True),
    "countTokens": (Operation.COUNT_TOKENS, False),
    "embedContent": (Operation.EMBEDDINGS, False),
    "batchEmbedContents": (Operation.EMBEDDINGS, False),
}


def dialect_of_path(path: str, headers: Mapping[str, str] | None = None) -> Dialect:
    """Best guess of the caller's dialect for a path we do not serve (to shape the 404)."""
    if path.startswith(("/v1beta/", "/v1alpha/")) or ":generateContent" in path:
        return Dialect.GEMINI
    if path.startswith("/v1/messages") or (headers and "anthropic-version" in headers):
        return Dialect.ANTHROPIC
    return Dialect.OPENAI


GEMINI_ENDPOINTS = {
    method: Endpoint(Dialect.GEMINI, operation, GEMINI_PATHS[0], True)
    for method, (operation, _) in GEMINI_METHODS.items()
}
