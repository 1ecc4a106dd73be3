"""The OpenAI dialect (chat completions, completions, embeddings, responses; Azure OpenAI's deployment
paths), and the two provider kinds that speak it: ``openai`` (OpenAI and every OpenAI-compatible
server: vLLM, Ollama, Groq...; ``base_url`` up to and including ``/v1``) and ``azure-openai``
(``{base_url}/openai/deployments/{model}{path}?api-version=...``, key in ``api-key``).

Streams: ``data:`` chunks, ended by ``data: [DONE]`` (the Responses API by ``response.completed`` or
``response.incomplete``); the first chunk often carries only the role (held back before the commit
point); the trailing usage chunk (``choices: []``) is the one the sidecar asks for on the caller's behalf.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...sse import SSEEvent
from ...translate.numbers import exact_body
from .. import Dialect, Operation, ProviderKind
from ..base import (
    Endpoint,
    ProviderAPI,
    RequestShape,
    WireDialect,
    error_raises,
    read_model_and_stream,
    require_objects,
)
from . import bodies as _bodies
from . import features as _features
from .translation import TRANSLATION

_PATHS = {
    Operation.CHAT: "/chat/completions",
    Operation.GENERATE_CONTENT: "/chat/completions",
    Operation.TEXT_COMPLETION: "/completions",
    Operation.EMBEDDINGS: "/embeddings",
    Operation.RESPONSES: "/responses",
}
_RESPONSES_ENDS = ("response.completed", "response.incomplete")
_USAGE_CHUNKED = frozenset((Operation.CHAT, Operation.TEXT_COMPLETION))
# A global for ``OpenAIAPI.wire``, called on every request to an OpenAI provider: Python 3.11 leaves an Enum
# member's read through its class unspecialized (~975 instructions; docs/benchmarks.md, "Wave 47 `plain48`")
_OPENAI = Dialect.OPENAI
"""The streams whose usage comes only when asked (``stream_options.include_usage``): the sidecar asks for
it, and keeps the usage chunk from an app that did not (``stream_read``). Before 2026-12-06 only chat's:
a streamed legacy completion brought no usage and was charged its reservation as an estimate."""


class OpenAIWire(WireDialect):
    dialect = Dialect.OPENAI
    name = "OpenAI"
    paths = _PATHS
    endpoints = (
        Endpoint(Dialect.OPENAI, Operation.CHAT, "/v1/chat/completions"),
        Endpoint(Dialect.OPENAI, Operation.TEXT_COMPLETION, "/v1/completions"),
        Endpoint(Dialect.OPENAI, Operation.EMBEDDINGS, "/v1/embeddings"),
        Endpoint(Dialect.OPENAI, Operation.RESPONSES, "/v1/responses"),
        # AzureOpenAI SDK pointed at the sidecar: the deployment name is the requested model.
        Endpoint(Dialect.OPENAI, Operation.CHAT, "/openai/deployments/{model}/chat/completions", True),
        Endpoint(Dialect.OPENAI, Operation.EMBEDDINGS, "/openai/deployments/{model}/embeddings", True),
        Endpoint(Dialect.OPENAI, Operation.RESPONSES, "/openai/responses"),  # its Responses API: model in the body
    )
    api_root = "/v1"
    protocol_headers = ("openai-",)
    translation = TRANSLATION
    bodies = _bodies
    feature_walkers = _features.WALKERS
    response_id_prefix = "chatcmpl-"
    answer_extras = (
        ("system_fingerprint",),
        ("service_tier",),
        ("usage", "prompt_tokens_details"),
        ("usage", "completion_tokens_details"),
    )
    stream_padding = "obfuscation"  # unless stream_options.include_obfuscation is false
    answer_keys = frozenset({"choices", "data", "output"})  # completions; embeddings; responses
    answer_lists = frozenset({"choices"})  # OpenAI never answers a chat or completion with no choice
    request_id_header = "x-request-id"  # its SDK's ``_request_id``
    transport_fields = _bodies.TRANSPORT_FIELDS

    def read_request(
        self, endpoint: Endpoint, path: str, path_param: str, body: dict[str, Any], query: Mapping[str, str]
    ) -> RequestShape:
        shape = read_model_and_stream(endpoint, path_param, body)
        require_objects(body, "stream_options")  # read by the relay, the ensemble, the cache's replay
        return shape

    def claims_path(self, path: str, headers: Mapping[str, str] | None) -> bool:
        return path.startswith(("/v1/", "/openai/"))

    def credentials(self, key: str) -> tuple[str, str]:
        return "authorization", f"Bearer {key}"

    def same_dialect_body(
        self, body: dict[str, Any], raw: bytes, model: str, operation: Operation, stream: bool, *, max_tokens: int
    ) -> bytes:
        upstream = exact_body(body, raw).copy()  # an integer beyond 64 bits stays exact (``translate.numbers``)
        upstream["model"] = model
        if stream and operation in _USAGE_CHUNKED:  # usage is counted from the stream's usage chunk
            upstream["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        return orjson.dumps(upstream)

    def finish_translated_body(self, body: dict[str, Any], operation: Operation, stream: bool) -> None:
        if operation in (Operation.CHAT, Operation.GENERATE_CONTENT):
            body["stream"] = stream
            if stream:
                body["stream_options"] = {"include_usage": True}

    def is_preamble(self, event: SSEEvent) -> bool:
        """The role-only first chunk (no content, tool call, refusal or usage yet); a chunk whose
        ``choices`` or ``delta`` has another JSON type (a lying provider's) holds no content either."""
        if event.event is not None or b'"delta"' not in event.data:
            return False
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(chunk, dict):
            return False
        choices = chunk.get("choices")
        if not choices:
            return chunk.get("usage") is None
        first = choices[0] if isinstance(choices, list) else None
        delta = first.get("delta") if isinstance(first, dict) else None
        if not isinstance(delta, dict):
            return True
        return not any(delta.get(k) for k in ("content", "tool_calls", "refusal", "function_call"))

    def is_terminal(self, operation: Operation, event: SSEEvent) -> bool:
        if operation is Operation.RESPONSES:
            return event.event in _RESPONSES_ENDS
        return event.data == b"[DONE]"

    def may_end(self, operation: Operation, chunk: bytes) -> bool:
        """A Responses stream's end events, else ``[DONE]`` (one search for a chat's read, not three)."""
        if operation is Operation.RESPONSES:
            return chunk.find(b"response.completed") >= 0 or chunk.find(b"response.incomplete") >= 0
        return chunk.find(b"[DONE]") >= 0

    def is_usage_only(self, event: SSEEvent) -> bool:
        data = event.data
        return b'"usage"' in data and b'"choices":[]' in data.replace(b" ", b"")

    def allows_non_json(self, event: SSEEvent) -> bool:
        return event.data == b"[DONE]"

    def error_event_raises(self, event: SSEEvent) -> bool:
        """openai-python raises ``APIError`` on an unnamed event whose data has an ``error`` (with its
        ``message``, else a generic one)."""
        return error_raises(event, name=None)


class OpenAIAPI(ProviderAPI):
    kind = ProviderKind.OPENAI
    otel_name = "openai"

    def wire(self, caller: Dialect, speaks: Dialect | None) -> Dialect:
        return _OPENAI


class AzureOpenAIAPI(ProviderAPI):
    kind = ProviderKind.AZURE_OPENAI
    otel_name = "azure.ai.openai"

    def wire(self, caller: Dialect, speaks: Dialect | None) -> Dialect:
        return _OPENAI

    def url(self, base_url: str, api_version: str | None, wire: WireDialect, path: str, model: str) -> str:
        """Chat, completions and embeddings under the deployment, with ``api_version``; the Responses API only
        exists on Azure's v1 surface, which takes the deployment as the body's ``model`` and no version."""
        if path == _PATHS[Operation.RESPONSES]:
            return f"{base_url}/openai/v1{path}"
        return f"{base_url}/openai/deployments/{model}{path}?api-version={api_version}"

    def credentials(self, wire: WireDialect, key: str) -> tuple[str, str]:
        return "api-key", key


WIRE = OpenAIWire()
API = OpenAIAPI()
AZURE_API = AzureOpenAIAPI()
APIS = (API, AZURE_API)
