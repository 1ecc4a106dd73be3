"""Which endpoint a path is, outside a live request: for ``llm-sidecar explain`` and ``diff --replay``.

``endpoint_for(path, body_model)`` answers what the server's router and request stage work out for a
live request (``server/endpoints.py`` is the table): the caller's dialect, the operation, and the
requested model, which Gemini and Azure paths carry in the path and the others in the body.
"""

from __future__ import annotations

from .dialects import Dialect, Operation, registry
from .dialects.base import RequestProblem


def endpoint_for(path: str, body_model: str) -> tuple[Dialect, Operation, str]:
    """``(dialect, operation, requested model)`` of a request to ``path``; ``ValueError`` when the
    sidecar does not serve the path."""
    path = path.split("?", 1)[0]
    found = registry.find_endpoint(path)
    if found is not None:
        endpoint, param = found
        try:
            shape = registry.wire(endpoint.dialect).read_request(
                endpoint, path, param, {"model": body_model}, {"alt": "sse"}
            )
        except RequestProblem:
            pass
        else:
            return endpoint.dialect, shape.operation, shape.model
    raise ValueError(f"{path} is not a path the sidecar serves")
