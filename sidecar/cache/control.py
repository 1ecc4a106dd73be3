"""What the app asks of the cache: the request's directives.

Request (honoured when the route's ``client_control`` is on; bypass wins over refresh):

| header                                     | directive | effect                                      |
|--------------------------------------------|-----------|---------------------------------------------|
| ``x-sidecar-cache: bypass``                | BYPASS    | no lookup, no store                         |
| ``Cache-Control: no-store``                | BYPASS    | (RFC 9111: nothing of this exchange stored) |
| ``x-sidecar-cache: refresh``               | REFRESH   | no lookup; the new answer is stored         |
| ``Cache-Control: no-cache`` / ``max-age=0``| REFRESH   | (RFC 9111: do not answer from the cache)    |
| ``Cache-Control: max-age=N``               | USE       | a hit only if stored at most N seconds ago  |
| ``Cache-Control: min-fresh=N``             | USE       | a hit only if fresh N seconds more (ttl_s)  |
| ``Cache-Control: max-stale[=N]``           | USE       | also an entry N s past ttl_s (bare: any),   |
|                                            |           | within the route's stale window (stale_s)   |

``max-age``, ``min-fresh`` and ``max-stale`` (RFC 9111 5.2.1.1, 5.2.1.3, 5.2.1.2) bound the age of the
answer the app takes (``Control.oldest_s``): an older entry is a miss, and its upstream answer replaces
it; one past ``ttl_s`` that ``max-stale`` lets the app take is served ``stale`` (never past ``ttl_s +
stale_s``, the entry's stored life); any other directive is ignored. Their argument is delta-seconds:
ASCII digits, quoted or not (``max-age="5"``), at most 2**31 (a longer one is 2**31, RFC 9111 1.2.2);
anything else (``max-age=-5``, ``max-age=x``, ``max-age`` bare) is ignored, but ``max-stale`` bare is
any staleness; repeated, the strictest counts (a number over ``max-stale`` bare).

Both headers are lists (RFC 9110 5.3): every line of a repeated header counts, and every comma-separated
member of a line, so a ``no-store`` a proxy appended on a second line is not lost behind the first. A
directive is known by its name whatever its argument (``no-cache="x"`` is ``no-cache``; ``max-age``'s
argument may be quoted, ``max-age="0"``); names and values are compared without case.

The response's ``x-sidecar-cache`` and ``Age`` are built with the sidecar's other headers
(``server.answer_headers``, from ``Exchange.cache`` and ``cache_age_s``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from multidict import MultiMapping


class Directive(enum.StrEnum):
    USE = "use"
    BYPASS = "bypass"
    REFRESH = "refresh"


class Control(NamedTuple):
    """What the app asks: the directive, and the bounds it puts on a stored answer's age (None: none;
    ``max_stale_s`` infinite: ``max-stale`` bare, any staleness)."""

    directive: Directive
    max_age_s: int | None = None
    min_fresh_s: int | None = None
    max_stale_s: float | None = None

    def oldest_s(self, ttl_s: float, stale_s: float = 0.0) -> float | None:
        """The oldest entry this app takes on a route whose entries are fresh ``ttl_s`` and kept ``stale_s``
        more (None: any fresh one): ``min-fresh`` takes from ``ttl_s`` and ``max-stale`` adds to it (as
        RFC 9111's caches do: Squid's ``refreshCheck``), never past ``ttl_s + stale_s``; ``max-age``
        bounds it all. Past ``ttl_s`` the entry is served stale."""
        if self is USE or (self.max_age_s is None and self.min_fresh_s is None and self.max_stale_s is None):
            return None  # no bound (``USE``, the common case: one identity test)
        oldest = ttl_s if self.min_fresh_s is None else ttl_s - self.min_fresh_s
        if self.max_stale_s is not None:
            oldest = min(oldest + self.max_stale_s, ttl_s + stale_s)
        return oldest if self.max_age_s is None else min(oldest, self.max_age_s)


USE = Control(Directive.USE)
_MAX_DELTA_S = 2**31  # RFC 9111 1.2.2: a larger delta-seconds is this


def client_directive(headers: Mapping[str, str], *, allowed: bool) -> Directive:
    """The app's directive (``client_control``'s, without its age bounds)."""
    return client_control(headers, allowed=allowed).directive


def client_control(headers: Mapping[str, str], *, allowed: bool) -> Control:
    """The app's directive and age bounds (header names lower-case, as the listener gives them; a
    multidict's repeated lines all read)."""
    if not allowed or ("x-sidecar-cache" not in headers and "cache-control" not in headers):
        return USE
    own = {name for name, _ in _members(headers, "x-sidecar-cache")}
    control = list(_members(headers, "cache-control"))
    names = {name for name, _ in control}
    if "bypass" in own or "no-store" in names:
        return Control(Directive.BYPASS)
    max_age = _strictest(control, "max-age")
    if "refresh" in own or "no-cache" in names or max_age == 0:
        return Control(Directive.REFRESH)
    min_fresh = _strictest(control, "min-fresh")
    max_stale = _max_stale(control)
    if max_age is None and min_fresh is None and max_stale is None:
        return USE
    return Control(Directive.USE, max_age, min_fresh, max_stale)


def _max_stale(members: list[tuple[str, str]]) -> float | None:
    """``max-stale``'s strictest delta-seconds; infinite when it is only given bare (or with an empty
    argument: any staleness); None when not given, or only with arguments that are not delta-seconds."""
    seconds = _strictest(members, "max-stale")
    if seconds is None and any(key == "max-stale" and not argument for key, argument in members):
        return math.inf
    return seconds


def _strictest(members: list[tuple[str, str]], name: str) -> int | None:
    """The smallest delta-seconds given to the directive ``name`` (None when no member gives one)."""
    seconds = [
        _MAX_DELTA_S if len(argument) > 10 else min(int(argument), _MAX_DELTA_S)
        for key, argument in members
        if key == name and argument.isascii() and argument.isdigit()  # no int() before: "²" is a digit
    ]
    return min(seconds) if seconds else None


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
