"""What the app asks of the cache: the request's directives.

Request (honoured when the route's ``client_control`` is on; bypass wins over refresh):

| header                                     | directive | effect                                      |
|--------------------------------------------|-----------|---------------------------------------------|
| ``x-sidecar-cache: bypass``                | BYPASS    | no lookup, no store                         |
| ``Cache-Control: no-store``                | BYPASS    | (RFC 9111: nothing of this exchange stored) |
| ``x-sidecar-cache: refresh``               | REFRESH   | no lookup; the new answer is stored         |
| ``Cache-Control: no-cache`` / ``max-age=0``| REFRESH   | (RFC 9111: do not answer from the cache)    |

The response's ``x-sidecar-cache`` and ``Age`` are built with the sidecar's other headers
(``server.answer_headers``, from ``Exchange.cache`` and ``cache_age_s``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Directive(enum.StrEnum):
    USE = "use"
    BYPASS = "bypass"
    REFRESH = "refresh"


def client_directive(headers: Mapping[str, str], *, allowed: bool) -> Directive:
    """The app's directive (header names lower-case, as the listener gives them)."""
    if not allowed:
        return Directive.USE
    own = headers.get("x-sidecar-cache", "").strip().lower()
    control = headers.get("cache-control", "")
    tokens = {t.strip().lower().replace(" ", "") for t in control.split(",")} if control else set()
    if own == "bypass" or "no-store" in tokens:
        return Directive.BYPASS
    if own == "refresh" or "no-cache" in tokens or "max-age=0" in tokens:
        return Directive.REFRESH
    return Directive.USE
