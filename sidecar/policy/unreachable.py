"""Routes that can never match: an earlier route's ``match`` holds for every request a later one's does
(routes are tried in order, the first match wins), so the later one is dead code in the policy, almost
always a mistake (a rule added below a catch-all, a model listed under a glob that already took it).

``unreachable_routes(routes)`` gives one warning per such route, with its path and the route that takes
its requests (``routes[4].match: never matches: routes[0] (retired) takes every request it would``); a
route after one with an empty ``match`` and the ``default`` route after it are named the same way. It is
conservative: a pair is flagged only when the earlier match provably covers the later one (each
condition of the earlier is one the later has, with values inside the earlier's), never a route that
some request could still reach. Each route is compared only with the earlier routes filed under a value
it has (``_Earlier``: each route filed by one of its conditions, any of them, not only ``model``): 1,000
routes differing by a header, by app or by model, or sharing a model and differing by app, take 10-50 ms
of CPU (they took 1.0-1.4 s when a route without a model condition was compared with every earlier
one), measured on the loaded machine. Earlier routes that all share one value of every condition they
have are still compared with each later route that has it (a policy of 1,000 copies of one match).
"""

from __future__ import annotations

import re

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
    """The routes seen so far, each filed under one of its conditions by value: a later route is compared
    only with the earlier ones filed under a value it has (an exact value, or a glob whose literal start
    begins it), so n routes cost about n comparisons, not n^2/2. A route covers a later one only if each
    of its conditions holds for every value of the later's, so it is found under whichever condition it
    is filed by; it is filed by the condition whose values hold the fewest routes so far (a policy whose
    routes share a model and differ by header files them by header)."""

    def __init__(self) -> None:
        self.exact: dict[tuple[str, str], list[int]] = {}  # (condition, exact value) -> routes
        self.prefixed: dict[tuple[str, str], list[int]] = {}  # (condition, a glob's literal start) -> routes
        self.by_condition: dict[str, list[int]] = {}  # condition -> every route filed under it
        self.anything: list[int] = []  # no condition: covers every route

    def add(self, index: int, match: _Match) -> None:
        if not match.conditions:
            self.anything.append(index)
            return
        condition = min(match.conditions, key=lambda c: (self._filed(c, match.conditions[c]), c))
        for value in match.conditions[condition]:
            shelf, key = self._place(condition, value)
            shelf.setdefault(key, []).append(index)
        self.by_condition.setdefault(condition, []).append(index)

    def _filed(self, condition: str, values: frozenset[str]) -> int:
        """How many routes are filed under these values already."""
        return sum(len(shelf.get(key, ())) for shelf, key in (self._place(condition, v) for v in values))

    def _place(self, condition: str, value: str) -> tuple[dict[tuple[str, str], list[int]], tuple[str, str]]:
        """Where a route listing ``value`` for ``condition`` is filed: by the value, a glob by its literal
        start."""
        if _is_glob(value):
            return self.prefixed, (condition, _literal_start(value))
        return self.exact, (condition, value)

    def candidates(self, later: _Match) -> list[int]:
        """The earlier routes that could cover ``later``, in file order."""
        found = set(self.anything)
        for condition, values in later.conditions.items():
            if not values:  # no value: any route filed under the condition holds for all of them
                found.update(self.by_condition.get(condition, ()))
                continue
            value = min(values)  # an earlier route that covers later holds for this one value too
            found.update(self.exact.get((condition, value), ()))
            for end in range(len(value) + 1):
                found.update(self.prefixed.get((condition, value[:end]), ()))
        return sorted(found)


def _literal_start(glob: str) -> str:
    """What every value a glob matches begins with (``gpt-4`` of ``gpt-4*``; nothing of ``*``)."""
    return re.split(r"[*?\[]", glob, maxsplit=1)[0]


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
    """A route's ``match``, its patterns built once (a route is compared with several earlier ones)."""

    def __init__(self, match: MatchSpec) -> None:
        self.empty = not match.model_dump(exclude_none=True)
        self.features = match.features
        self.sets = {field: frozenset(_listed(v)) for field in _LISTS if (v := getattr(match, field)) is not None}
        self.values = {field: _Values(v) for field in ("model", "app") if (v := getattr(match, field)) is not None}
        self.headers = {name.lower(): _Values(v) for name, v in (match.headers or {}).items()}
        self.keys = frozenset((*self.sets, *self.values, *(f"header {name}" for name in self.headers)))
        self.conditions = {  # every condition by its values (the features by their text): for ``_Earlier``
            **self.sets,
            **{field: values.listed for field, values in self.values.items()},
            **{f"header {name}": values.listed for name, values in self.headers.items()},
            **({"features": frozenset({self.features.model_dump_json()})} if self.features is not None else {}),
        }

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
