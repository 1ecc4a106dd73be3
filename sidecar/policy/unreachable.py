"""Routes that can never match: an earlier route's ``match`` holds for every request a later one's does
(routes are tried in order, the first match wins), so the later one is dead code in the policy, almost
always a mistake (a rule added below a catch-all, a model listed under a glob that already took it).

``unreachable_routes(routes)`` gives one warning per such route, with its path and the route that takes
its requests (``routes[4].match: never matches: routes[0] (retired) takes every request it would``); a
route after one with an empty ``match`` and the ``default`` route after it are named the same way. It is
conservative: a pair is flagged only when the earlier match provably covers the later one (each
condition of the earlier is one the later has, with values inside the earlier's), never a route that
some request could still reach. Each route is compared only with the earlier routes its ``model`` could
fall under (an index by model value): 1,000 routes differing by model take 0.02-0.4 s of CPU at load,
1,000 without a model condition 1.2 s (each against every earlier one), measured on the loaded machine.
"""

from __future__ import annotations

from .conditions import Pattern, _is_glob, _listed
from .spec import MatchSpec, RouteSpec

_LISTS = ("dialect", "operation", "task", "complexity")


def unreachable_routes(routes: list[RouteSpec], default: RouteSpec | None) -> list[str]:
    """A warning for each route (and the default) that an earlier route always takes first."""
    matches = [_Match(route.match) for route in routes]
    earlier = _Earlier()
    warnings = []
    for i, later in enumerate(matches):
        j = next((j for j in earlier.candidates(later) if matches[j].covers(later)), None)
        if j is not None:
            warnings.append(f"routes[{i}].match: never matches: {_named(j, routes[j])} takes every request it would")
        earlier.add(i, later)
    catch_all = next((j for j, match in enumerate(matches) if match.empty), None)
    if default is not None and catch_all is not None:
        warnings.append(f"default: never used: {_named(catch_all, routes[catch_all])} has an empty match")
    return warnings


class _Earlier:
    """The routes seen so far, indexed by their ``model`` values: a later route is compared only with
    the earlier ones that could cover its model (routes usually differ by model: n^2/2 comparisons of a
    large policy become a few per route)."""

    def __init__(self) -> None:
        self.by_value: dict[str, list[int]] = {}  # a model value (exact or glob) -> routes listing it
        self.no_model: list[int] = []  # no model condition: may cover any route
        self.star: list[int] = []  # model "*": may cover a route with a model condition
        self.globs: list[int] = []  # a glob other than "*": may take an exact name

    def add(self, index: int, match: _Match) -> None:
        model = match.values.get("model")
        if model is None or "*" in model.listed:
            (self.no_model if model is None else self.star).append(index)
            return
        for value in model.listed:
            self.by_value.setdefault(value, []).append(index)
        if any(_is_glob(value) for value in model.listed):
            self.globs.append(index)

    def candidates(self, later: _Match) -> list[int]:
        """The earlier routes that could cover ``later``, in file order."""
        model = later.values.get("model")
        if model is None:
            return self.no_model  # one with a model condition lets a request through that this takes
        first = min(model.listed)
        found = {*self.no_model, *self.star, *self.by_value.get(first, ())}
        if not _is_glob(first):
            found.update(self.globs)
        return sorted(found)


class _Values:
    """One condition's values: exact names and globs, with the pattern that tests a value against them."""

    __slots__ = ("listed", "pattern")

    def __init__(self, values: str | list[str]) -> None:
        self.listed = frozenset(_listed(values))
        self.pattern = Pattern(values)

    def cover(self, given: _Values | None) -> bool:
        """Every value ``given`` accepts is one these accept (a glob of ``given`` only when these list the
        same glob, or ``*``)."""
        if given is None:
            return False
        return all(
            (value in self.listed or "*" in self.listed) if _is_glob(value) else self.pattern(value)
            for value in given.listed
        )


class _Match:
    """A route's ``match``, its patterns built once (a policy of n routes compares n^2/2 pairs)."""

    def __init__(self, match: MatchSpec) -> None:
        self.empty = not match.model_dump(exclude_none=True)
        self.features = match.features
        self.sets = {field: frozenset(_listed(v)) for field in _LISTS if (v := getattr(match, field)) is not None}
        self.values = {field: _Values(v) for field in ("model", "app") if (v := getattr(match, field)) is not None}
        self.headers = {name.lower(): _Values(v) for name, v in (match.headers or {}).items()}
        self.keys = frozenset((*self.sets, *self.values, *(f"header {name}" for name in self.headers)))

    def covers(self, later: _Match) -> bool:
        """Whether every request ``later`` matches is matched by this one too."""
        if not self.keys <= later.keys or (self.features is not None and self.features != later.features):
            return False  # a condition the later match does not have: a request without it escapes this one
        if any(field not in later.sets or not later.sets[field] <= wanted for field, wanted in self.sets.items()):
            return False
        if any(not wanted.cover(later.values.get(field)) for field, wanted in self.values.items()):
            return False
        return all(wanted.cover(later.headers.get(name)) for name, wanted in self.headers.items())


def _named(index: int, route: RouteSpec) -> str:
    return f"routes[{index}] ({route.name})" if route.name else f"routes[{index}]"
