"""What the app asks of the cache: the request's directives.

Request (honoured when the route's ``client_control`` is on; bypass wins over refresh):

| header                                     | directive | effect                                      |
|--------------------------------------------|-----------|---------------------------------------------|
| ``x-sidecar-cache: bypass``                | BYPASS    | no lookup, no store                         |
| ``Cache-Control: no-store``                | BYPASS    | (RFC 9111: nothing of this exchange stored) |
| ``x-sidecar-cache: refresh``               | REFRESH   | no lookup; the new answer is stored         |
| ``Cache-Control: no-cache`` / ``max-age=0``| REFRESH   | (RFC 9111: do not answer from the cache)    |

Both headers are lists (RFC 9110 5.3): every line of a repeated header counts, and every comma-separated
member of a line, so a ``no-store`` a proxy appended on a second line is not lost behind the first. A
directive is known by its name whatever its argument (``no-cache="x"`` is ``no-cache``; ``max-age``'s
argument may be quoted, ``max-age="0"``); names and values are compared without case.

The response's ``x-sidecar-cache`` and ``Age`` are built with the sidecar's other headers
(``server.answer_headers``, from ``Exchange.cache`` and ``cache_age_s``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping

from multidict import MultiMapping


class Directive(enum.StrEnum):
    USE = "use"
    BYPASS = "bypass"
    REFRESH = "refresh"


def client_directive(headers: Mapping[str, str], *, allowed: bool) -> Directive:
    """The app's directive (header names lower-case, as the listener gives them; a multidict's repeated
    lines all read)."""
    if not allowed or ("x-sidecar-cache" not in headers and "cache-control" not in headers):
        return Directive.USE
    own = {name for name, _ in _members(headers, "x-sidecar-cache")}
    control = dict(_members(headers, "cache-control"))
    if "bypass" in own or "no-store" in control:
        return Directive.BYPASS
    if "refresh" in own or "no-cache" in control or control.get("max-age") == "0":
        return Directive.REFRESH
    return Directive.USE


def _members(headers: Mapping[str, str], name: str) -> Iterator[tuple[str, str]]:
    """Each member of the header's list as (name, argument): lower-case, the argument unquoted and
    without leading zeros when it is a number ("" when there is none)."""
    lines = headers.getall(name, ()) if isinstance(headers, MultiMapping) else [headers.get(name, "")]
    for line in lines:
        for member in line.split(","):
            key, _, argument = member.partition("=")
            argument = argument.strip().strip('"').strip()
            if argument.isascii() and argument.isdigit():  # no int(): "²" is a digit, 5,000 digits raise
                argument = argument.lstrip("0") or "0"
            yield key.strip().lower(), argument.lower()
