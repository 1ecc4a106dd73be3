"""One description of a request: what routing and every stage may know about it before any upstream call.

``describe_request(path, headers, query, body, app=...)`` is a pure function from what the app sent to a
``RequestFacts``: the caller's dialect and the operation (from the path), the requested model (from the
path or the body), whether it streams, the method named in the path (Gemini's), the calling app, the
headers and the body. The server calls ``read_request`` with the endpoint its router already matched;
``llm-sidecar explain`` and ``diff --replay`` call ``describe_request`` with a path: both end in the same
``WireDialect.read_request``, so what explain says is what the server does.

``RequestFacts.features`` (``routing.features.RequestFeatures``: token estimate, tools, media, the text
windows task rules read) is computed on first use and kept: most policies never need it, and one that
does pays once per request whatever the number of conditions and stages reading it. ``routing`` is
routing's per-request record (``routing.record.Routed``: task, complexity, selection, split arm), made
when routing first reads the request.

A path the sidecar does not serve is a 404 whose message names the policy's ``passthrough``
(``UNSERVED_HINT``). A request the sidecar cannot read raises ``RequestProblem`` (status, message, code,
param), answered in the caller's dialect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .dialects import Dialect, Operation, registry
from .dialects.base import UNSERVED_HINT, Endpoint, RequestProblem
from .policy.base import CREDENTIAL_HEADERS
from .routing.features import RequestFeatures, extract_features
from .routing.record import Routed

__all__ = [
    "CREDENTIAL_HEADERS",
    "UNSERVED_HINT",
    "RequestFacts",
    "RequestProblem",
    "describe_request",
    "read_request",
    "shown_model",
]

APP_HEADER = "x-sidecar-app"
"""The request header naming the calling app (else the sidecar's ``SIDECAR_APP``)."""


_NO_BODY: dict[str, Any] = {}


class RequestFacts:
    """What one request is (see the module docstring). ``features`` is computed once, when first read."""

    __slots__ = (
        "app",
        "body",
        "dialect",
        "headers",
        "known_features",
        "model",
        "operation",
        "path_method",
        "routing",
        "stream",
    )

    def __init__(
        self,
        dialect: Dialect,
        operation: Operation,
        model: str,
        headers: Mapping[str, str],
        app: str,
        *,
        stream: bool = False,
        path_method: str = "",
        body: dict[str, Any] | None = None,
    ) -> None:
        self.dialect = dialect
        self.operation = operation
        self.model = model
        """The model the app asked for ("" until the body is read)."""
        self.headers = headers
        self.app = app
        self.stream = stream
        self.path_method = path_method
        """The method named in the path (Gemini's ``generateContent``...), "" for other dialects."""
        self.body = body if body is not None else _NO_BODY
        self.known_features: RequestFeatures | None = None
        """The features if something already computed them, else None (reading it computes nothing: an
        attribute, not a property, since the budgets' estimate reads it on every request)."""
        self.routing: Routed | None = None
        """What routing decided (``routing.record``): None until routing reads the request."""

    @property
    def features(self) -> RequestFeatures:
        """The body's routing features (``routing.features.extract_features``), computed on first use."""
        features = self.known_features
        if features is None:
            features = self.known_features = extract_features(
                self.body, self.dialect, self.operation, stream=self.stream
            )
        return features

    @features.setter
    def features(self, features: RequestFeatures) -> None:
        """Features known otherwise (``diff --replay``: those an access line recorded)."""
        self.known_features = features

    def unread(self) -> RequestFacts:
        """The same request with nothing computed from it (no features, no routing record), as it reaches
        the server: ``explain`` walks the request path on one (``explain.budget_rows``)."""
        return RequestFacts(
            self.dialect,
            self.operation,
            self.model,
            self.headers,
            self.app,
            stream=self.stream,
            path_method=self.path_method,
            body=self.body,
        )

    def __repr__(self) -> str:
        return (
            f"RequestFacts({self.dialect}, {self.operation}, model={self.model!r}, app={self.app!r}, "
            f"stream={self.stream})"
        )


MODEL_SHOWN_CHARS = 256
"""The longest requested model an output shows (the access line, the request's span, a 404's message):
a longer one is cut to its start and ``...``. Routing reads the whole name; a body may hold megabytes of
it, which would otherwise be written into every line and span that names the request's model."""


def shown_model(model: str) -> str:
    """``model`` as the outputs show it: whole up to ``MODEL_SHOWN_CHARS``, else its start and ``...``."""
    return model if len(model) <= MODEL_SHOWN_CHARS else model[: MODEL_SHOWN_CHARS - 3] + "..."


def app_of(headers: Mapping[str, str], default: str) -> str:
    """The calling app: its ``x-sidecar-app`` header, else ``default`` (``SIDECAR_APP``); bytes that are
    not UTF-8 written as ``\\xff`` (``readable_text``)."""
    app = headers.get(APP_HEADER) or default
    return app if app.isascii() else readable_text(app)


def readable_text(value: str) -> str:
    """``value`` as valid UTF-8 text: the listener hands over a header's bytes that are not UTF-8 as lone
    surrogates (``surrogateescape``), which JSON writers, hashes and key builders refuse; each such byte
    becomes ``\\xNN`` (any other lone surrogate ``\\udNNN``), the rest is unchanged."""
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode()


def read_request(
    endpoint: Endpoint,
    path: str,
    path_param: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: dict[str, Any],
    *,
    app: str,
) -> RequestFacts:
    """The facts of a request to ``endpoint`` (its path parameter already matched); ``app`` is the
    calling app (``app_of``). Raises ``RequestProblem``."""
    shape = registry.wire(endpoint.dialect).read_request(endpoint, path, path_param, body, query)
    return RequestFacts(
        endpoint.dialect,
        shape.operation,
        shape.model,
        headers,
        app,
        stream=shape.stream,
        path_method=shape.method,
        body=body,
    )


def describe_request(
    path: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: dict[str, Any],
    *,
    app: str,
    http_method: str = "POST",
) -> RequestFacts:
    """The facts of ``http_method path`` with ``body``, as the server reads them (``path`` may carry its
    query string). Raises ``RequestProblem``: 404 for a path the sidecar does not serve, and whatever
    the server answers for a body it cannot read."""
    path = path.split("?", 1)[0]
    found = registry.find_endpoint(path) if http_method == "POST" else None
    if found is None:
        raise RequestProblem(
            404, f"{http_method} {path} is not a path the sidecar serves{UNSERVED_HINT}", code="unknown_path"
        )
    endpoint, param = found
    return read_request(endpoint, path, param, headers, query, body, app=app_of(headers, app))
