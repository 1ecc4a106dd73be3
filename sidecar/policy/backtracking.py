r"""Regular expressions that backtrack exponentially, refused when the policy loads.

Python's engine backtracks: on a text that almost matches, it tries every way the pattern can match
each part of it before it gives up. When a repeated part can match the same text in more than one way
(``(a+)+``, ``(\w+\s?)+``, ``(a*)*``, ``(.*,)*``, ``(a|a)+``), the ways multiply with each repetition:
``(a+)+b`` takes seconds on 26 ``a``\ s, and the event loop of every pod that loaded the policy waits for
it. ``exponential_part(pattern)`` finds such a part, ``check_backtracking(pattern)`` raises the policy
error that names it and says how to write it safely.

How: the pattern is read by the standard library's own parser (``re._parser``, the tree ``re.compile``
compiles, after its rewrites: ``(\w|\d)`` is one character class there, not an alternation, and is
cheap), and turned into a position automaton: one state per character the pattern matches, an edge
per way the engine can go from one to the next, counted (the inner and the outer loop of ``(a+)+``
are two edges from ``a`` to ``a``; two empty alternatives are two ways). A pattern backtracks
exponentially when some state has two different paths back to itself that read the same text (the
automaton's exponential degree of ambiguity, Weber and Seidl 1991): found in the automaton paired
with itself, as a strongly connected part that holds a pair (p, p) and a pair (p, q) or a doubled
edge. Polynomial shapes (``\w+\s+\w+``, ``SELECT .+ FROM``) pass: the rules' windows bound them
(docs/routing.md). Atomic groups and possessive repeats (``(?>a+)+b``, ``(a++)+b``) are one state
each: the engine never goes back into them. Counted repeats of a range (``{2,5}``) are read as
loops, exact counts (``{3}``) as copies. Character classes are compared on a sample of characters
(``parsed_regex.CharacterSets``).

``check_backtracking`` also refuses a polynomial degree of ambiguity above ``polynomial.MAX_DEGREE``
(``a+a+a+b``, ``.*a.*b.*c``), computed on the same automaton (``polynomial``; ``read_pattern`` builds it,
with the states a match may end at).

``re._parser`` is private: ``parsed_regex`` says what happens if a future Python removes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .parsed_regex import CharacterSets, show, sre
from .polynomial import MAX_DEGREE, ambiguity_degree, components, degree_error

_UNROLLED = 16  # an exact count is read as that many copies, at most this many (``\d{4}``); a range as a loop
_MAX_PAIRS = 200_000  # pairs of edges compared in one loop before the pattern is called too complex
_ONE_CHARACTER = frozenset((sre.LITERAL, sre.NOT_LITERAL, sre.IN, sre.ANY, sre.GROUPREF))


@dataclass
class _Part:
    """What a part of the pattern starts and ends with: {state: ways}, and its ways to match nothing."""

    first: dict[int, int]
    last: dict[int, int]
    empty: int


@dataclass
class _Automaton:
    sets: list[tuple[Any, int]] = field(default_factory=list)  # per state: (what it matches, flags)
    edges: list[tuple[int, int, int, int]] = field(default_factory=list)  # (from, to, ways, loop or -1)
    loops: list[tuple[int, Any]] = field(default_factory=list)  # (nesting depth, the repeat item)
    chars: set[str] = field(default_factory=set)  # characters the pattern names

    def state(self, matches: Any, flags: int) -> _Part:
        self.sets.append((matches, flags))
        return _Part({len(self.sets) - 1: 1}, {len(self.sets) - 1: 1}, 0)

    def sequence(self, items: Any, flags: int, depth: int) -> _Part:
        part = _Part({}, {}, 1)
        for item in items:
            part = _concat(self, part, self.item(item, flags, depth))
        return part

    def link(self, last: dict[int, int], first: dict[int, int], loop: int) -> None:
        for source, ways in last.items():
            for target, more in first.items():
                self.edges.append((source, target, min(2, ways * more), loop))

    def item(self, item: tuple[Any, Any], flags: int, depth: int) -> _Part:
        op, av = item
        if op in _ONE_CHARACTER:
            return self.character(item, flags)
        if op is sre.AT:
            return _Part({}, {}, 1)
        if op in (sre.ASSERT, sre.ASSERT_NOT):  # zero width; its own loops are checked on their own
            self.sequence(av[1], flags, depth)
            return _Part({}, {}, 1)
        if op is sre.SUBPATTERN:
            return self.sequence(av[3], (flags | av[1]) & ~av[2], depth)
        if op is sre.BRANCH:
            return self.branches(av[1], flags, depth)
        if op is sre.GROUPREF_EXISTS:
            return self.branches([av[1], av[2] or []], flags, depth)
        if op is sre.ATOMIC_GROUP:
            return self.token(av, 0, flags, depth)
        if op is sre.POSSESSIVE_REPEAT:
            return self.token(av[2], av[0], flags, depth)
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            return self.repeat(item, flags, depth)
        return self.state((sre.ANY, None), flags | re.DOTALL)  # anything else: any one character

    def character(self, item: tuple[Any, Any], flags: int) -> _Part:
        op, av = item
        if op in (sre.LITERAL, sre.NOT_LITERAL):
            self.chars.add(chr(av))
        elif op is sre.IN:
            for kind, value in av:
                if kind is sre.LITERAL:
                    self.chars.add(chr(value))
                elif kind is sre.RANGE:
                    self.chars.update(chr(max(0, value[0] - 1)), *map(chr, value), chr(min(0x10FFFF, value[1] + 1)))
        else:  # any character; a back reference: any text, read as any one character
            return self.state((sre.ANY, None), flags | (re.DOTALL if op is sre.GROUPREF else 0))
        return self.state(item, flags)

    def branches(self, alternatives: Any, flags: int, depth: int) -> _Part:
        parts = [self.sequence(alternative, flags, depth) for alternative in alternatives]
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for part in parts:
            first.update(part.first)
            last.update(part.last)
        return _Part(first, last, min(2, sum(part.empty for part in parts)))

    def token(self, items: Any, least: int, flags: int, depth: int) -> _Part:
        """An atomic group or a possessive repeat: one state matching any of its characters (its
        inside is kept apart: its own loops are checked, the engine never backtracks into it)."""
        start = len(self.sets)
        inside = self.sequence(items, flags, depth)
        if len(self.sets) == start:
            return _Part({}, {}, 1)
        token = self.state(("union", range(start, len(self.sets))), flags)
        token.empty = 1 if inside.empty or least == 0 else 0
        return token

    def repeat(self, item: tuple[Any, Any], flags: int, depth: int) -> _Part:
        least, most, body = item[1]
        if most == 0:
            return _Part({}, {}, 1)
        if most == 1 or least == most:
            part = _Part({}, {}, 1)
            for _ in range(min(most, _UNROLLED)):
                part = _concat(self, part, self.sequence(body, flags, depth))
            if least == 0:
                part.empty = min(2, part.empty + 1)
            return part
        self.loops.append((depth, item))
        loop = len(self.loops) - 1
        part = self.sequence(body, flags, depth + 1)
        self.link(part.last, part.first, loop)
        if least == 0:
            part.empty = min(2, part.empty + 1)
        return part


def _plus(base: dict[int, int], more: dict[int, int], times: int) -> dict[int, int]:
    merged = dict(base)
    if times:
        for state, ways in more.items():
            merged[state] = min(2, merged.get(state, 0) + ways * times)
    return merged


def _concat(automaton: _Automaton, before: _Part, after: _Part) -> _Part:
    automaton.link(before.last, after.first, -1)
    return _Part(
        _plus(before.first, after.first, before.empty),
        _plus(after.last, before.last, after.empty),
        min(2, before.empty * after.empty),
    )


def exponential_part(pattern: str, flags: int = 0) -> tuple[str, str] | None:
    """The repeated part of ``pattern`` that backtracks exponentially and that part written atomic, as
    Python's parser reads them (``(a(?:|))+`` for ``(a|a)+``), or None when there is none."""
    automaton, masks, _ = read_pattern(pattern, flags)
    return _exponential(automaton, masks)


def read_pattern(pattern: str, flags: int) -> tuple[_Automaton, CharacterSets, frozenset[int]]:
    """The automaton of ``pattern``, its states' characters and its final states: those a match may
    end at (none when the pattern has a ``$``, ``\\Z`` or a lookaround, which can fail after them)."""
    automaton = _Automaton()
    parsed = sre.parse(pattern, flags)
    whole = automaton.sequence(parsed, parsed.state.flags, 0)
    final = frozenset() if _can_fail_empty(parsed) else frozenset(whole.last)
    return automaton, CharacterSets(automaton.sets, automaton.chars), final


def _can_fail_empty(items: Any) -> bool:
    """Whether the parsed pattern holds an end anchor or a lookaround (zero width, and it can fail)."""
    for op, av in items:
        if op in (sre.ASSERT, sre.ASSERT_NOT) or (op is sre.AT and av in (sre.AT_END, sre.AT_END_STRING)):
            return True
        if any(_can_fail_empty(inner) for inner in _subpatterns(av)):
            return True
    return False


def _subpatterns(value: Any) -> list[Any]:
    """The parsed sub-patterns an item's argument holds (a group's, a repeat's, each alternative)."""
    if isinstance(value, sre.SubPattern):
        return [value]
    if isinstance(value, list | tuple):
        return [inner for item in value for inner in _subpatterns(item)]
    return []


def _exponential(automaton: _Automaton, masks: CharacterSets) -> tuple[str, str] | None:
    loop = _ambiguous_loop(automaton, masks)
    if loop is None:
        return None
    op, (least, most, body) = automaton.loops[loop][1]
    inside = body[0][1][3] if len(body) == 1 and body[0][0] is sre.SUBPATTERN else body
    return show([(op, (least, most, body))]), show([(op, (least, most, [(sre.ATOMIC_GROUP, inside)]))])


def check_backtracking(pattern: str, flags: int = 0) -> str:
    """``pattern`` when no repeated part of it backtracks exponentially and its polynomial degree is at
    most ``polynomial.MAX_DEGREE``, else ``ValueError`` naming the part (or the degree) and saying how to
    write it safely. A pattern ``re`` refuses is returned as it is: whoever compiles it reports that."""
    try:
        automaton, masks, final = read_pattern(pattern, flags)
        found = _exponential(automaton, masks)
    except re.error:
        return pattern
    except _TooComplex:
        raise ValueError(
            f"'{pattern}' is too large to check for exponential backtracking (a long alternation inside a"
            " repeat): split it into several patterns, or use keywords"
        ) from None
    if found is None:
        degree = ambiguity_degree(len(automaton.sets), automaton.edges, masks, final)
        if degree is not None and degree > MAX_DEGREE:
            raise ValueError(degree_error(pattern, degree))
        return pattern
    part, atomic = found
    raise ValueError(
        f"'{pattern}' backtracks exponentially: its repeated part '{part}' can match a text in more than one"
        " way, and Python's engine tries every way on a text that almost matches (exponential time, while"
        f" the event loop of every pod waits). Write it atomic, '{atomic}', or with possessive inner repeats"
        " ('a++' for 'a+'), or so each repetition ends with a separator it cannot match otherwise ('(\\w+\\s)+')"
    )


class _TooComplex(Exception):
    """A loop with more pairs of edges to compare than ``_MAX_PAIRS``."""


def _ambiguous_loop(automaton: _Automaton, masks: CharacterSets) -> int | None:
    """The loop to blame for two different paths from a state back to itself over the same text, or
    None. Only the states of one strongly connected part can be on such paths: each part is paired
    with itself, pair by pair of its edges whose targets share a character."""
    edges = automaton.edges
    leaving: list[list[int]] = [[] for _ in automaton.sets]
    for number, edge in enumerate(edges):
        leaving[edge[0]].append(number)
    for part in components(range(len(automaton.sets)), lambda state: [edges[e][1] for e in leaving[state]]):
        members = set(part)
        inner = {state: [e for e in leaving[state] if edges[e][1] in members] for state in part}
        if any(inner.values()):
            blamed = _paired(automaton, masks, inner, part)
            if blamed is not None:
                return blamed
    return None


def _paired(automaton: _Automaton, masks: CharacterSets, inner: dict[int, list[int]], part: list[int]) -> int | None:
    edges = automaton.edges
    graph: dict[tuple[int, int], list[tuple[tuple[int, int], int, int]]] = {}
    todo = [(state, state) for state in part]
    seen = set(todo)
    compared = 0
    while todo:
        node = todo.pop()
        steps = graph[node] = []
        for one in inner[node[0]]:
            target = edges[one][1]
            compared += len(inner[node[1]])
            for other in inner[node[1]]:
                if masks[target] & masks[edges[other][1]]:
                    pair = (target, edges[other][1])
                    steps.append((pair, one, other))
                    if pair not in seen:
                        seen.add(pair)
                        todo.append(pair)
        if compared > _MAX_PAIRS:
            raise _TooComplex
    for component in components(graph, lambda node: [step[0] for step in graph[node]]):
        if not any(p == q for p, q in component):
            continue
        inside = set(component)
        pairs = [(one, other) for node in component for pair, one, other in graph[node] if pair in inside]
        if any(p != q for p, q in component):
            return _outermost(automaton, pairs)
        doubled = [(one, other) for one, other in pairs if one != other or edges[one][2] > 1]
        if doubled:
            return _outermost(automaton, doubled)
    return None


def _outermost(automaton: _Automaton, pairs: list[tuple[int, int]]) -> int:
    loops = {automaton.edges[e][3] for pair in pairs for e in pair} - {-1}
    return min(loops, key=lambda loop: automaton.loops[loop][0]) if loops else 0
