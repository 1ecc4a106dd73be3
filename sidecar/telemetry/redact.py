"""Header redaction, for any code that must show request headers (telemetry itself records none)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

SECRET_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "set-cookie"}
)
REDACTED: Final = "[redacted]"


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of ``headers`` with the values of credential-bearing headers replaced by ``[redacted]``.

    Names compare case-insensitively; repeated headers keep the last value.
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name: REDACTED if name.lower() in SECRET_HEADERS else value for name, value in items}
