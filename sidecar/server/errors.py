"""The one exception the pipeline raises to answer a caller with an error, in the caller's dialect."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from aiohttp import web

from ..dialects import Dialect
from ..dialects.registry import error_body


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
