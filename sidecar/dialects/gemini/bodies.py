"""What the sidecar's features read and write in a Gemini request body (its ``WireDialect.bodies``, a
``base.BodyRules``; ``TRANSPORT_FIELDS`` is its ``transport_fields``): pure functions. Keys
come in camelCase or snake_case.

- ``output_limit``: ``generationConfig.maxOutputTokens`` (also inside a ``generateContentRequest``;
  countTokens and embeddings have none)
- ``set_output_limit``: ``generationConfig.maxOutputTokens`` (in the config object the app used)
- ``append_turns``: the rejected answer and the re-ask as the next two ``contents`` (roles model, user)
- ``cache_unfaithful``: why the cache cannot keep the answer (log probabilities, several candidates,
  non-text modalities, grounding and other non-function tools)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import Operation

# the model and streaming are in the URL, not the body; labels, the latency tier and Google's logging of the
# request change how it is billed or kept, not what the answer says
TRANSPORT_FIELDS = frozenset(("labels", "serviceTier", "service_tier", "store"))
SAMPLING_FIELDS = ("generationConfig", "generation_config")
_UNCACHEABLE_CONFIG = ("responseLogprobs", "response_logprobs", "logprobs")


def output_limit(body: dict[str, Any], operation: Operation) -> Any:
    if operation is not Operation.CHAT and operation is not Operation.GENERATE_CONTENT:
        return None
    inner = either(body, "generateContentRequest", "generate_content_request")
    config = either(inner if isinstance(inner, dict) else body, "generationConfig", "generation_config")
    return config_limit(config if isinstance(config, dict) else {})


def config_limit(config: dict[str, Any]) -> Any:
    """The output maximum in a ``generationConfig`` object (either spelling)."""
    return either(config, "maxOutputTokens", "max_output_tokens")


def either(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """``obj[camel]``, else ``obj[snake]`` (Gemini accepts both spellings)."""
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def set_output_limit(body: dict[str, Any], operation: Operation, value: int) -> dict[str, Any]:
    key = "generation_config" if "generation_config" in body and "generationConfig" not in body else "generationConfig"
    config = dict(body.get(key) or {})
    config.pop("max_output_tokens", None)
    config["maxOutputTokens"] = value
    return {**body, key: config}


def append_turns(body: Mapping[str, Any], operation: Operation, said: str, prompt: str) -> dict[str, Any]:
    turns = [{"role": "model", "parts": [{"text": said}]}, {"role": "user", "parts": [{"text": prompt}]}]
    return {**body, "contents": [*(body.get("contents") or []), *turns]}


def cache_unfaithful(body: Mapping[str, Any], raw: bytes) -> str | None:
    config = body.get("generationConfig") or body.get("generation_config") or {}
    if isinstance(config, dict):
        for name in _UNCACHEABLE_CONFIG:
            if config.get(name):
                return name
        count = config.get("candidateCount", config.get("candidate_count"))
        if count is not None and count != 1:
            return "candidateCount"
        modalities = config.get("responseModalities", config.get("response_modalities"))
        if modalities and [str(m).upper() for m in modalities] != ["TEXT"]:
            return "responseModalities"
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or set(tool) - {"functionDeclarations", "function_declarations"}:
            return "tools"  # googleSearch, codeExecution, urlContext...: grounding is not kept
    return None
