"""Where an attempt goes: the upstream URL for a provider, a dialect and an operation.

URLs per provider kind (``base_url`` as written in the policy):

- openai:        ``{base_url}/chat/completions`` (base_url ends in /v1, as in the OpenAI SDK)
- azure-openai:  ``{base_url}/openai/deployments/{model}/chat/completions?api-version=...``
- anthropic:     ``{base_url}/v1/messages``
- gemini:        ``{base_url}/v1beta/models/{model}:generateContent`` (``:streamGenerateContent?alt=sse``)
- fake:          the server root; the path is that of the dialect spoken
"""

from __future__ import annotations

from ..dialects import Dialect, Operation
from ..policy.compiled import Provider
from ..policy.spec import ProviderKind

_OPENAI_SUFFIX = {
    Operation.CHAT: "/chat/completions",
    Operation.TEXT_COMPLETION: "/completions",
    Operation.EMBEDDINGS: "/embeddings",
    Operation.RESPONSES: "/responses",
}
_ANTHROPIC_SUFFIX = {Operation.CHAT: "/v1/messages", Operation.COUNT_TOKENS: "/v1/messages/count_tokens"}


class NoEquivalentOperation(Exception):
    """The target's dialect has no endpoint for this operation (e.g. /v1/responses on Anthropic)."""


def upstream_url(
    provider: Provider,
    wire: Dialect,
    operation: Operation,
    model: str,
    *,
    stream: bool,
    gemini_method: str = "",
) -> str:
    base = provider.base_url
    if wire is Dialect.OPENAI:
        suffix = _OPENAI_SUFFIX.get(operation if operation is not Operation.GENERATE_CONTENT else Operation.CHAT)
        if suffix is None:
            raise NoEquivalentOperation(f"{operation} has no OpenAI endpoint")
        if provider.kind is ProviderKind.AZURE_OPENAI:
            return f"{base}/openai/deployments/{model}{suffix}?api-version={provider.api_version}"
        if provider.kind is ProviderKind.FAKE:
            return f"{base}/v1{suffix}"
        return base + suffix
    if wire is Dialect.ANTHROPIC:
        op = Operation.CHAT if operation is Operation.GENERATE_CONTENT else operation
        suffix = _ANTHROPIC_SUFFIX.get(op)
        if suffix is None:
            raise NoEquivalentOperation(f"{operation} has no Anthropic endpoint")
        return base + suffix
    method = gemini_method or _gemini_method(operation, stream)
    url = f"{base}/v1beta/models/{model}:{method}"
    return url + "?alt=sse" if method == "streamGenerateContent" else url


def _gemini_method(operation: Operation, stream: bool) -> str:
    if operation in (Operation.CHAT, Operation.GENERATE_CONTENT):
        return "streamGenerateContent" if stream else "generateContent"
    if operation is Operation.COUNT_TOKENS:
        return "countTokens"
    if operation is Operation.EMBEDDINGS:
        return "embedContent"
    raise NoEquivalentOperation(f"{operation} has no Gemini endpoint")
