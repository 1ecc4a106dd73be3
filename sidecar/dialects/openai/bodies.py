"""What the sidecar's features read and write in an OpenAI request body (its ``WireDialect.bodies``, a
``base.BodyRules``; ``TRANSPORT_FIELDS`` is its ``transport_fields``): pure functions.

- ``output_limit``: the output maximum the request gives (``max_completion_tokens``, else ``max_tokens``
  for chat; ``max_output_tokens`` for responses; ``max_tokens`` for completions)
- ``set_output_limit``: the output maximum in the field the operation reads (``max_tokens`` for
  completions and for a chat that already uses it, ``max_output_tokens`` for responses, else
  ``max_completion_tokens``)
- ``append_turns``: the rejected answer and the re-ask as the next two turns (``input`` items for
  responses, ``messages`` for chat)
- ``cache_unfaithful``: why the cache cannot keep the answer (log probabilities, audio, several
  choices, non-function tools, the legacy ``functions``, a completion OpenAI is asked to ``store``)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import Operation

TRANSPORT_FIELDS = frozenset(
    (
        "stream",
        "stream_options",
        "user",
        "metadata",
        "store",
        "service_tier",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
    )
)
# ``store``: the app asks OpenAI to keep the completion under its id (to retrieve, list, update or delete it
# later, through a passthrough too, or for evals and distillation): a hit's fresh id would name none
_UNCACHEABLE = ("logprobs", "top_logprobs", "audio", "web_search_options", "functions", "function_call", "store")
# every field ``cache_unfaithful`` reads: a body with none of them (the usual chat) is told so by one C call
_READ_FOR_CACHE = frozenset((*_UNCACHEABLE, "n", "modalities", "tools"))


def output_limit(body: dict[str, Any], operation: Operation) -> Any:
    if operation is Operation.CHAT:
        return body.get("max_completion_tokens", body.get("max_tokens"))  # OpenAI's newer name wins
    if operation is Operation.RESPONSES:
        return body.get("max_output_tokens")
    if operation is Operation.TEXT_COMPLETION:
        return body.get("max_tokens")
    return None


def set_output_limit(body: dict[str, Any], operation: Operation, value: int) -> dict[str, Any]:
    out = dict(body)
    if operation is Operation.TEXT_COMPLETION:
        out["max_tokens"] = value
    elif operation is Operation.RESPONSES:
        out["max_output_tokens"] = value
    elif "max_tokens" in body and "max_completion_tokens" not in body:
        out["max_tokens"] = value  # keep the field the app used (OpenAI-compatible servers may know only it)
    else:
        out["max_completion_tokens"] = value
    return out


def append_turns(body: Mapping[str, Any], operation: Operation, said: str, prompt: str) -> dict[str, Any]:
    out = dict(body)
    if operation is Operation.RESPONSES:
        items = out.get("input")
        items = [{"role": "user", "content": items}] if isinstance(items, str) else list(items or [])
        out["input"] = [*items, {"role": "assistant", "content": said}, {"role": "user", "content": prompt}]
    else:
        turns = [{"role": "assistant", "content": said}, {"role": "user", "content": prompt}]
        out["messages"] = [*(out.get("messages") or []), *turns]
    return out


def cache_unfaithful(body: Mapping[str, Any], raw: bytes) -> str | None:
    if _READ_FOR_CACHE.isdisjoint(body):
        return None
    for name in _UNCACHEABLE:
        if body.get(name):
            return name
    n = body.get("n")
    if n is not None and n != 1:
        return "n"
    modalities = body.get("modalities")
    if modalities and list(modalities) != ["text"]:
        return "modalities"
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or tool.get("type") != "function":
            return "tools"
    return None
