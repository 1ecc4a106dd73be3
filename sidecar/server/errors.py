"""The one exception the pipeline raises to answer a caller with an error, in the caller's dialect, and
the headers that tell the app's SDK whether and when to send it again (``retry_headers``)."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from aiohttp import web

from ..dialects import Dialect
from ..dialects.registry import error_body

SDK_WAIT_MAX_S = 60
"""The longest ``Retry-After`` the sidecar lets the app's SDK wait out before its retry. Past it the answer
also says ``x-should-retry: false``: openai-python waits up to 120 s and then does not retry, but
anthropic-python and the Node SDKs wait any length (an hour's reset would hold the app an hour, twice)."""


def retry_headers(wait_s: int, *, again: bool = True) -> dict[str, str]:
    """``Retry-After: wait_s``, and ``x-should-retry: false`` unless the app's SDK should send the request
    again (``again``: the sidecar did not already do the retrying) within ``SDK_WAIT_MAX_S``."""
    headers = {"retry-after": str(wait_s)}
    if not again or wait_s > SDK_WAIT_MAX_S:
        headers["x-should-retry"] = "false"
    return headers


class RequestFailed(Exception):
    """Answer the caller with ``status`` and a dialect-shaped error; never a stack trace."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def error_response(dialect: Dialect, failure: RequestFailed) -> web.Response:
    body = error_body(dialect, failure.status, failure.message, code=failure.code, param=failure.param)
    if failure.extra:
        inner = body.get("error")
        target = inner if isinstance(inner, dict) else body
        target.update(failure.extra)
    return web.Response(
        status=failure.status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=failure.headers,
    )
