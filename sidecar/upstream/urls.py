"""Where an attempt goes: the upstream URL for a provider, a dialect and an operation.

The dialect spoken gives the path of the operation (``WireDialect.upstream_path``: OpenAI's
``/chat/completions``, Anthropic's ``/v1/messages``, Gemini's ``/v1beta/models/{model}:{method}``);
the provider's kind puts it on its ``base_url`` (``ProviderAPI.url``): as is for ``openai`` (whose
``base_url`` ends in ``/v1``), ``anthropic`` and ``gemini``; under ``/openai/deployments/{model}``
with ``api-version`` for ``azure-openai``; under the dialect's API root for ``fake``.
"""

from __future__ import annotations

from typing import Any

from ..dialects import Dialect, Operation, registry
from ..dialects.base import NoEquivalentOperation
from ..policy.compiled import Provider

__all__ = ["NoEquivalentOperation", "upstream_url"]


def upstream_url(
    provider: Provider,
    wire: Dialect,
    operation: Operation,
    model: str,
    *,
    stream: bool,
    method: str = "",
    body: Any = None,
) -> str:
    """The URL of ``operation`` on ``provider`` spoken to in ``wire``; ``method``: the caller's Gemini
    method (same dialect), ``body``: the body sent (it decides Gemini's embeddings method). Raises
    ``NoEquivalentOperation``."""
    dialect = registry.wire(wire)
    path = dialect.upstream_path(operation, model, stream=stream, method=method, body=body)
    return provider.api.url(provider.base_url, provider.api_version, dialect, path, model)
