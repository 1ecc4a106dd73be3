"""Which endpoint a path is, outside a live request: for ``llm-sidecar explain`` and ``diff --replay``.

``endpoint_for(path, body_model)`` answers what the server's router and request stage work out for a
live request (``server/endpoints.py`` is the table): the caller's dialect, the operation, and the
requested model, which Gemini and Azure paths carry in the path and the others in the body.
"""

from __future__ import annotations

from .dialects import Dialect, Operation
from .server.endpoints import ANTHROPIC_ENDPOINTS, GEMINI_METHODS, OPENAI_ENDPOINTS


def endpoint_for(path: str, body_model: str) -> tuple[Dialect, Operation, str]:
    """``(dialect, operation, requested model)`` of a request to ``path``; ``ValueError`` when the
    sidecar does not serve the path."""
    path = path.split("?", 1)[0]
    if path.startswith(("/v1beta/models/", "/v1/models/")) and ":" in path:
        model, _, method = path.split("/models/", 1)[1].rpartition(":")
        if method in GEMINI_METHODS and model:
            return Dialect.GEMINI, GEMINI_METHODS[method][0], model.removeprefix("models/")
    for endpoint in (*OPENAI_ENDPOINTS, *ANTHROPIC_ENDPOINTS):
        if not endpoint.model_in_path:
            if endpoint.path == path:
                return endpoint.dialect, endpoint.operation, body_model
            continue
        head, _, tail = endpoint.path.partition("{model}")
        if path.startswith(head) and path.endswith(tail) and len(path) > len(head) + len(tail):
            model = path[len(head) : len(path) - len(tail)]
            if "/" not in model:
                return endpoint.dialect, endpoint.operation, model
    raise ValueError(f"{path} is not a path the sidecar serves")
