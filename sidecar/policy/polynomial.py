r"""Regular expressions whose backtracking is polynomial of a high degree, refused when the policy loads.

``backtracking`` refuses the exponential shapes; the polynomial ones it accepts can still be slow.
A pattern with ``k`` repeated parts in a row that can each take the same text (``a+a+a+b``,
``.*a.*b.*c``, ``(a+){3}b``: the first can give up characters the second can take, and so on) has
``k - 1`` places where the engine can cut a text between them, so on a text that almost matches it
tries about ``n ** (k - 1)`` ways from each of the ``n`` positions a search starts at. That ``k - 1``
is the automaton's degree of ambiguity (Weber and Seidl 1991): the longest chain of loops, each pair
in a row with a text that both loop on and that also leads from the first to the second.
``ambiguity_degree(states, edges, masks)`` computes it on the position automaton ``backtracking``
builds (each pair tested in the automaton taken three times: a path from (p, p, q) to (p, q, q) reading
one text); ``backtracking.check_backtracking`` refuses a degree above ``MAX_DEGREE`` with
``degree_error``, which says the measured cost. ``components`` (Tarjan's strongly connected parts) is
shared with ``backtracking``.

The bound (docs/routing.md, measured with ``bench/regex_backtracking.py``'s method, one search of a
hostile text, 2026-12-06 on the shared 2-core machine): degree 1 (``.*a.*b``, ``\w+\w+!``) costs
0.3-0.9 s on 1,280 characters, the largest window routing rules read, and is accepted (common shapes
such as ``.*error.*line`` have it); degree 2 (``.*a.*b.*c``, ``a+a+a+b``) costs 1.6 s and 6.4 s on
640 characters and 23 s on 1,280, and is refused, as is any higher one (``(a+){10}b``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_DEGREE = 1
_MAX_STEPS = 200_000  # triples visited in one pattern before the degree is left unknown (accepted)

COST = (
    "a degree of 2 costs 23 s on a hostile text of 1,280 characters (the largest window a routing rule"
    " reads: '.*a.*b.*c' on 'abab...'), each more degree about the window's length times more"
)


def ambiguity_degree(
    states: int, edges: Sequence[tuple[int, int, int, int]], masks: Any, final: frozenset[int] = frozenset()
) -> int | None:
    """The degree of ambiguity of an automaton of ``states`` states and ``edges`` (from, to, ...), whose
    states match the characters ``masks[state]`` (bits): 0 when each text is read one way from a start;
    None when it is too large to compute in ``_MAX_STEPS``. A loop holding a ``final`` state (a match
    may end right after it) is left out: reaching it, the search has its match and stops."""
    following: list[list[int]] = [[] for _ in range(states)]
    for edge in edges:
        following[edge[0]].append(edge[1])
    parts = components(range(states), lambda state: following[state])  # reverse topological order
    part_of = {state: index for index, part in enumerate(parts) for state in part}
    looping = [
        i
        for i, part in enumerate(parts)
        if final.isdisjoint(part) and any(part_of[t] == i for s in part for t in following[s])
    ]
    budget = [_MAX_STEPS]
    longest: dict[int, int] = {}  # part -> the longest chain of ambiguous pairs starting at it
    try:
        for first in looping:  # the parts a part leads to come before it in ``parts``
            longest[first] = max(
                (
                    1 + longest[second]
                    for second in looping
                    if second < first and _ambiguous(parts[first], parts[second], following, part_of, masks, budget)
                ),
                default=0,
            )
    except _Unknown:
        return None
    return max(longest.values(), default=0)


class _Unknown(Exception):
    """More triples to visit than ``_MAX_STEPS``."""


def _ambiguous(
    first: list[int],
    second: list[int],
    following: list[list[int]],
    part_of: dict[int, int],
    masks: Any,
    budget: list[int],
) -> bool:
    """Whether some p of ``first`` and q of ``second`` have one text that loops on p, leads from p to q
    and loops on q: a path from (p, p, q) to (p, q, q) in the automaton taken three times, the first
    and last copies kept inside their parts."""
    return any(_reaches((p, p, q), (p, q, q), following, part_of, masks, budget) for p in first for q in second)


def _reaches(
    start: tuple[int, int, int],
    goal: tuple[int, int, int],
    following: list[list[int]],
    part_of: dict[int, int],
    masks: Any,
    budget: list[int],
) -> bool:
    """Whether ``goal`` is reached from ``start`` in the triple automaton, each step reading one
    character all three states match; the first copy stays in the part of ``start[0]``, the last in
    that of ``start[2]``."""
    inside_first, inside_second = part_of[start[0]], part_of[start[2]]
    seen = {start}
    todo = [start]
    while todo:
        x, y, z = todo.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise _Unknown
        for x2 in following[x]:
            if part_of[x2] != inside_first:
                continue
            for y2 in following[y]:
                common = masks[x2] & masks[y2]
                if not common:
                    continue
                for z2 in following[z]:
                    if part_of[z2] != inside_second or not common & masks[z2]:
                        continue
                    triple = (x2, y2, z2)
                    if triple == goal:
                        return True
                    if triple not in seen:
                        seen.add(triple)
                        todo.append(triple)
    return False


def degree_error(pattern: str, degree: int) -> str:
    """Why ``pattern``, of degree of ambiguity ``degree`` (above ``MAX_DEGREE``), is refused."""
    return (
        f"'{pattern}' backtracks polynomially with degree {degree}: {degree + 1} repeated parts in a row can"
        f" each take the same text, so a search tries about n^{degree + 1} ways from each start on a text of n"
        f" characters that almost matches ({COST}). Keep at most two such parts (split the rest into another"
        " rule, or use keywords), or make them exclude each other ('[^a]*a' for '.*a')"
    )


def components(nodes: Any, following: Any) -> list[list[Any]]:
    """The strongly connected components of a graph (Tarjan's algorithm, without recursion), each after
    every component it leads to."""
    index: dict[Any, int] = {}
    low: dict[Any, int] = {}
    stack: list[Any] = []
    on_stack: set[Any] = set()
    found: list[list[Any]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(following(root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, rest = work[-1]
            for nxt in rest:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(following(nxt))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    found.append(component)
    return found
