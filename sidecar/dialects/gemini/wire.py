"""The Gemini dialect (generateContent, streamGenerateContent, countTokens, embedContent,
batchEmbedContents) and the ``gemini`` provider kind (``base_url``: the server root; key in
``x-goog-api-key``).

The model and the method are in the path (``/v1beta/models/gemini-2.0-flash:streamGenerateContent``),
so a same-dialect body goes upstream as the app sent it. Streams are served as server-sent events only
(``?alt=sse``). A stream has no end marker: the fragment with a ``finishReason`` is its last (or a blocked prompt's
only one, with the ``promptFeedback``'s ``blockReason``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ...sse import SSEEvent
from .. import Dialect, Operation, ProviderKind
from ..base import (
    UNSERVED_HINT,
    Endpoint,
    NoEquivalentOperation,
    ProviderAPI,
    RequestProblem,
    RequestShape,
    WireDialect,
    require_objects,
)
from . import bodies as _bodies
from . import embeddings
from . import features as _features
from .translation import TRANSLATION

METHODS: Mapping[str, tuple[Operation, bool]] = {
    "generateContent": (Operation.GENERATE_CONTENT, False),
    "streamGenerateContent": (Operation.GENERATE_CONTENT, True),
    "countTokens": (Operation.COUNT_TOKENS, False),
    "embedContent": (Operation.EMBEDDINGS, False),
    "batchEmbedContents": (Operation.EMBEDDINGS, False),
}
"""Gemini method -> (operation, streams)."""


class GeminiWire(WireDialect):
    dialect = Dialect.GEMINI
    name = "Gemini"
    # The operation is the method's (``read_request``); the route's is a placeholder.
    endpoints = (
        Endpoint(Dialect.GEMINI, Operation.GENERATE_CONTENT, "/v1beta/models/{tail}", True),
        Endpoint(Dialect.GEMINI, Operation.GENERATE_CONTENT, "/v1/models/{tail}", True),
    )
    protocol_headers = ("x-goog-",)
    translation = TRANSLATION
    bodies = _bodies
    feature_walkers = _features.WALKERS
    response_id_prefix = ""
    response_id_base64 = True  # Gemini's responseId: 22 or so URL-safe base64 characters
    answer_extras = (
        *(
            ("usageMetadata", name)
            for name in (
                "cachedContentTokenCount",
                "promptTokensDetails",
                "candidatesTokensDetails",
                "cacheTokensDetails",
                "toolUsePromptTokenCount",
                "toolUsePromptTokensDetails",
                "trafficType",  # Vertex AI's: pay-as-you-go or provisioned throughput
            )
        ),
        ("candidates", 0, "avgLogprobs"),  # the mean log-probability Gemini gives unasked
        ("candidates", 0, "safetyRatings"),
    )
    running_usage = "usageMetadata"

    def usage_so_far(self, usage: object) -> dict[str, Any] | None:
        """The prompt's counts: what a Gemini stream's fragments before the last carry (``promptTokenCount``,
        ``totalTokenCount`` as much, and ``promptTokensDetails``)."""
        if not isinstance(usage, dict) or type(usage.get("promptTokenCount")) is not int:
            return None
        prompt = usage["promptTokenCount"]
        so_far: dict[str, Any] = {"promptTokenCount": prompt, "totalTokenCount": prompt}
        if usage.get("promptTokensDetails") is not None:
            so_far["promptTokensDetails"] = usage["promptTokensDetails"]
        return so_far

    # generateContent (a blocked prompt: promptFeedback alone); countTokens; embedContent, batchEmbedContents
    answer_keys = frozenset({"candidates", "promptFeedback", "totalTokens", "embedding", "embeddings"})
    answer_lists = frozenset({"candidates"})  # no candidate and no promptFeedback: nothing was answered
    transport_fields = _bodies.TRANSPORT_FIELDS
    sampling_fields = _bodies.SAMPLING_FIELDS

    def read_request(
        self, endpoint: Endpoint, path: str, path_param: str, body: dict[str, Any], query: Mapping[str, str]
    ) -> RequestShape:
        model, _, method = path_param.rpartition(":")
        known = METHODS.get(method)
        if not model or known is None:
            raise _unserved(path, method, known)
        operation, stream = known
        if stream and query.get("alt") != "sse":
            raise RequestProblem(
                400,
                "streamGenerateContent is served as server-sent events only: add ?alt=sse",
                code="unsupported_stream_format",
                param="alt",
            )
        require_objects(body, "generationConfig", "generation_config")  # caps and gates write into it
        return RequestShape(operation, model.removeprefix("models/"), stream, method)

    def path_problem(self, path: str, path_param: str) -> RequestProblem | None:
        model, _, method = path_param.rpartition(":")
        known = METHODS.get(method)
        return _unserved(path, method, known) if not model or known is None else None

    def claims_path(self, path: str, headers: Mapping[str, str] | None) -> bool:
        if headers is not None and (
            "x-goog-api-key" in headers or "x-goog-api-client" in headers or "x-goog-upload-protocol" in headers
        ):
            return True  # google-genai's headers: it lists models at /v1/models too; a resumable upload's bytes
            # carry only the upload protocol's (a passthrough's ``/upload/``: docs/api.md, "Passthrough")
        # a method path under any version (google-genai's api_version="v1" sends /v1/models/x:countTokens)
        return path.startswith(("/v1beta/", "/v1alpha/")) or self.names_a_method(path.rpartition("/")[2])

    def model_listing(self, names: Sequence[str], created: int) -> dict[str, Any]:
        return {"models": [self.model_entry(name, created) for name in names]}

    def model_entry(self, name: str, created: int) -> dict[str, Any]:
        # every method the sidecar serves for any name (routing decides what answers it): apps filter
        # the list on supportedGenerationMethods, as Google's examples do
        return {"name": f"models/{name}", "displayName": name, "supportedGenerationMethods": list(METHODS)}

    def names_a_method(self, name: str) -> bool:
        _, colon, method = name.rpartition(":")
        return bool(colon) and method in METHODS

    def upstream_path(self, operation: Operation, model: str, *, stream: bool, method: str, body: Any) -> str:
        if not method:
            if operation in (Operation.CHAT, Operation.GENERATE_CONTENT):
                method = "streamGenerateContent" if stream else "generateContent"
            elif operation is Operation.COUNT_TOKENS:
                method = "countTokens"
            elif operation is Operation.EMBEDDINGS:
                method = embeddings.gemini_method(body) if isinstance(body, dict) else "embedContent"
            else:
                raise NoEquivalentOperation(f"{operation} has no Gemini endpoint")
        path = f"/v1beta/models/{model}:{method}"
        return path + "?alt=sse" if method == "streamGenerateContent" else path

    def credentials(self, key: str) -> tuple[str, str]:
        return "x-goog-api-key", key

    def same_dialect_body(
        self, body: dict[str, Any], raw: bytes, model: str, operation: Operation, stream: bool, *, max_tokens: int
    ) -> bytes:
        return raw  # the model is in the path: the body goes as the app sent it

    def is_terminal(self, operation: Operation, event: SSEEvent) -> bool:
        """The fragment where a candidate has a ``finishReason`` (a string: ``null`` is none, as the SDK
        reads it), or the prompt's ``blockReason`` (a blocked prompt's only fragment has no candidate:
        one that begins with its candidates is not searched for it); only a fragment that names either
        is parsed."""
        data = event.data
        if data.find(b'"finishReason"') < 0 and (data[:13] == b'{"candidates"' or data.find(b'"blockReason"') < 0):
            return False
        try:
            fragment = orjson.loads(data)
        except orjson.JSONDecodeError:
            return False
        return isinstance(fragment, dict) and _ends(fragment)

    def may_end(self, operation: Operation, chunk: bytes) -> bool:
        return chunk.find(b'"finishReason"') >= 0 or chunk.find(b'"blockReason"') >= 0

    def error_event_raises(self, event: SSEEvent) -> bool:
        """google-genai raises only on a chunk whose JSON starts with ``{"error":`` and whose ``code`` is
        a number (a string code or none makes it fail with a TypeError, a list is not looked at)."""
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(data, dict) or next(iter(data), None) != "error":
            return False
        error = data["error"]
        if not isinstance(error, dict) or not isinstance(error.get("message"), str) or not error["message"]:
            return False
        code = error.get("code")
        return type(code) is int and 400 <= code <= 599


def _unserved(path: str, method: str, known: tuple[Operation, bool] | None) -> RequestProblem:
    """The 404 of a Gemini path naming a method the sidecar does not serve, or no model."""
    unknown = f"unknown Gemini method {method!r}" if known is None else "no model in the path"
    return RequestProblem(
        404, f"{unknown}: POST {path} is not a path the sidecar serves{UNSERVED_HINT}", code="unknown_path"
    )


def _ends(fragment: dict[str, Any]) -> bool:
    """Whether a stream's parsed fragment is its last (``GeminiWire.is_terminal``)."""
    candidates = fragment.get("candidates")
    if isinstance(candidates, list) and any(
        isinstance(candidate, dict) and _said(candidate, "finishReason") for candidate in candidates
    ):
        return True
    feedback = fragment.get("promptFeedback")
    return isinstance(feedback, dict) and _said(feedback, "blockReason")


def _said(fields: dict[str, Any], name: str) -> bool:
    value = fields.get(name)
    return type(value) is str and bool(value)


class GeminiAPI(ProviderAPI):
    kind = ProviderKind.GEMINI
    otel_name = "gcp.gemini"

    def wire(self, caller: Dialect, speaks: Dialect | None) -> Dialect:
        return Dialect.GEMINI


WIRE = GeminiWire()
API = GeminiAPI()
APIS = (API,)
