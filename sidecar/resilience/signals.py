"""What a provider's error body says, read defensively: the facts ``classify`` decides on (the error
object, ``ErrorInfo`` and the quota, overload, context-overflow and billing matchers are
``dialects.errors``', where the condition an error stands for is read once, ``condition_of``: what
``classify`` decides on is what the app's error names).

- ``parse_json_body``: the decoded body (bytes over ``MAX_BODY_PARSE_BYTES`` are not parsed).
- ``stream_error_status``: the HTTP status an error inside a 200 stream stands for (the sidecar's one
  table of error names, ``dialects.errors``).

Nothing here raises on garbage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from sidecar.dialects.errors import status_of_error

MAX_BODY_PARSE_BYTES = 1 << 20
"""Bodies larger than this are not parsed as JSON (an error body is small; an HTML page is not JSON)."""


def parse_json_body(body: bytes | Mapping[str, Any] | None) -> Any:
    """The decoded JSON of ``body``, a mapping passed through, or None for anything unparseable."""
    if body is None:
        return None
    if isinstance(body, Mapping):
        return body
    if not isinstance(body, bytes | bytearray | memoryview) or len(body) > MAX_BODY_PARSE_BYTES:
        return None
    try:
        return orjson.loads(body)
    except Exception:
        return None


def stream_error_status(err: Mapping[str, Any]) -> int | None:
    """The HTTP status an in-stream ``error`` object stands for (``dialects.errors.status_of_error``: its
    numeric code, else its code/type/status name)."""
    return status_of_error(err)
