"""Routes that can never match: an earlier route's ``match`` holds for every request a later one's does
(routes are tried in order, the first match wins), so the later one is dead code in the policy, almost
always a mistake (a rule added below a catch-all, a model listed under a glob that already took it).

``unreachable_routes(routes)`` gives one warning per such route, with its path and the route that takes
its requests (``routes[4].match: never matches: routes[0] (retired) takes every request it would``); a
route after one with an empty ``match`` and the ``default`` route after it are named the same way. It is
conservative: a pair is flagged only when the earlier match provably covers the later one (each
condition of the earlier is one the later has, with values inside the earlier's), never a route that
some request could still reach.
"""

from __future__ import annotations

from .conditions import Pattern, _is_glob, _listed
from .spec import MatchSpec, RouteSpec

_LISTS = ("dialect", "operation", "task", "complexity")


def unreachable_routes(routes: list[RouteSpec], default: RouteSpec | None) -> list[str]:
    """A warning for each route (and the default) that an earlier route always takes first."""
    warnings = []
    for i, route in enumerate(routes):
        for j, earlier in enumerate(routes[:i]):
            if covers(earlier.match, route.match):
                warnings.append(f"routes[{i}].match: never matches: {_named(j, earlier)} takes every request it would")
                break
    catch_all = next((j for j, route in enumerate(routes) if not route.match.model_dump(exclude_none=True)), None)
    if default is not None and catch_all is not None:
        warnings.append(f"default: never used: {_named(catch_all, routes[catch_all])} has an empty match")
    return warnings


def covers(earlier: MatchSpec, later: MatchSpec) -> bool:
    """Whether every request ``later`` matches is matched by ``earlier`` too."""
    if earlier.features is not None and earlier.features != later.features:
        return False
    for field in ("model", "app"):
        if not _patterns_cover(getattr(earlier, field), getattr(later, field)):
            return False
    for field in _LISTS:
        wanted, given = getattr(earlier, field), getattr(later, field)
        if wanted is not None and (given is None or not set(_listed(given)) <= set(_listed(wanted))):
            return False
    later_headers = {name.lower(): values for name, values in (later.headers or {}).items()}
    return all(
        _patterns_cover(values, later_headers.get(name.lower())) for name, values in (earlier.headers or {}).items()
    )


def _patterns_cover(wanted: str | list[str] | None, given: str | list[str] | None) -> bool:
    """Every value ``given`` accepts is one ``wanted`` accepts (a glob of ``given`` only when ``wanted``
    lists the same glob, or ``*``)."""
    if wanted is None:
        return True
    if given is None:
        return False
    pattern, listed = Pattern(wanted), _listed(wanted)
    return all(pattern(value) if not _is_glob(value) else value in listed or "*" in listed for value in _listed(given))


def _named(index: int, route: RouteSpec) -> str:
    return f"routes[{index}] ({route.name})" if route.name else f"routes[{index}]"
