"""The client side: where an attempt goes (URL) and what it carries (headers); ``http1`` sends it.

URLs per provider kind (``base_url`` as written in the policy):

- openai:        ``{base_url}/chat/completions`` (base_url ends in /v1, as in the OpenAI SDK)
- azure-openai:  ``{base_url}/openai/deployments/{model}/chat/completions?api-version=...``
- anthropic:     ``{base_url}/v1/messages``
- gemini:        ``{base_url}/v1beta/models/{model}:generateContent`` (``:streamGenerateContent?alt=sse``)
- fake:          the server root; the path is that of the dialect spoken

Headers: the app's headers pass through except hop-by-hop ones, the app's own credentials (unless the
provider passes them through), the sidecar's ``x-sidecar-*`` controls, and, across dialects, the
caller dialect's protocol headers. The provider's key goes in the header its API reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from .dialects import Dialect, Operation
from .policy.compiled import Provider
from .policy.spec import ProviderKind

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Never forwarded upstream: recomputed, or ours to set.
_REQUEST_DROP = HOP_BY_HOP | {
    "host",
    "content-length",
    "accept-encoding",
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
}
# Protocol headers of one dialect that mean nothing (or harm) when the request goes to another.
_DIALECT_HEADERS = {
    Dialect.ANTHROPIC: ("anthropic-", "x-stainless-helper"),
    Dialect.OPENAI: ("openai-",),
    Dialect.GEMINI: ("x-goog-",),
}
# Never relayed back to the app.
RESPONSE_DROP = HOP_BY_HOP | {"content-length", "content-encoding", "set-cookie", "date", "server"}

ANTHROPIC_VERSION = "2023-06-01"

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


def upstream_headers(
    app_headers: Mapping[str, str], provider: Provider, caller: Dialect, wire: Dialect, key: str | None
) -> dict[str, str]:
    """Headers for the upstream request; ``key`` goes where ``wire``'s API reads it."""
    foreign = _DIALECT_HEADERS[caller] if caller is not wire else ()
    headers: dict[str, str] = {}
    for name, value in app_headers.items():
        lower = name.lower()
        if lower in _REQUEST_DROP or lower.startswith("x-sidecar-"):
            continue
        if foreign and lower.startswith(foreign):
            continue
        headers[lower] = value
    headers["content-type"] = "application/json"
    if wire is Dialect.ANTHROPIC:
        headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
    for name, value in provider.headers:
        headers[name] = value
    if key is not None:
        if provider.kind is ProviderKind.AZURE_OPENAI:
            headers["api-key"] = key
        elif wire is Dialect.OPENAI:
            headers["authorization"] = f"Bearer {key}"
        elif wire is Dialect.ANTHROPIC:
            headers["x-api-key"] = key
        else:
            headers["x-goog-api-key"] = key
    return headers
