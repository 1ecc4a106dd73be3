"""What the sidecar's features read and write in an Anthropic request body (its ``WireDialect.bodies``, a
``base.BodyRules``; ``TRANSPORT_FIELDS`` is its ``transport_fields``): pure functions.

- ``output_limit`` / ``set_output_limit``: ``max_tokens`` (a message's; count_tokens has none)
- ``append_turns``: the rejected answer and the re-ask as the next two ``messages``
- ``cache_unfaithful``: why the cache cannot keep the answer (MCP servers, containers, server tools,
  citations)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import Operation

# who is billed and where it runs, not what the answer says (``fallbacks`` may change the model: kept)
TRANSPORT_FIELDS = frozenset(
    ("stream", "metadata", "service_tier", "inference_geo", "workspace_id", "billing_policy", "fallback_credit_token")
)
_UNCACHEABLE = ("mcp_servers", "container")


def output_limit(body: dict[str, Any], operation: Operation) -> Any:
    return body.get("max_tokens") if operation is Operation.CHAT else None


def set_output_limit(body: dict[str, Any], operation: Operation, value: int) -> dict[str, Any]:
    return {**body, "max_tokens": value}


def append_turns(body: Mapping[str, Any], operation: Operation, said: str, prompt: str) -> dict[str, Any]:
    turns = [{"role": "assistant", "content": said}, {"role": "user", "content": prompt}]
    return {**body, "messages": [*(body.get("messages") or []), *turns]}


def cache_unfaithful(body: Mapping[str, Any], raw: bytes) -> str | None:
    for name in _UNCACHEABLE:
        if body.get(name):
            return name
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
            return "tools"  # server tools (web search, code execution...) answer with blocks not kept
    if b'"citations"' in raw:
        return "citations"  # cited answers carry citation blocks the common form does not keep
    return None
