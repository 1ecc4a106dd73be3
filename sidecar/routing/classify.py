"""The request path's classifier: a policy's class and level rules compiled at load into one function.

``Classifier(router)`` is built once per policy load (``matrix.Router``) from the router's two rule
indexes (``rule_index.RuleIndex``: classes in file order, levels highest first). It writes the Python
source of one decision function for the policy (``decider.write_decider``: readable, one ``if``/``elif``
per rule, each commented with the rule's path; kept on ``Classifier.source``) and compiles it; per
request ``decide(features, headers)`` is that function and answers the ``Decision`` ``Router.explain``
and the indexes' ``first_index`` do, rule by rule, with less work:

- each window a keyword rule reads is split into words (an ASCII window as bytes, against the
  keywords of that window as bytes) and one ``isdisjoint`` tells whether any keyword rule can match
  (the usual request: none can, no word set is built);
- each distinct condition is tested once: the literal tests a window's regexes need (every match of
  ``#travel-\\d+`` starts with ``#travel-``; twenty such patterns share one ``'#' in text``), whether
  an ASCII window holds a digit (for the patterns whose matches start with one), each pattern's search
  (shared by the class and the level rules that read it);
- when no keyword and no regex of an index can match (the usual request), only its rules of feature
  checks (compared inline: ``features.last_user_chars < B0``) and its rules the generated code cannot inline
  (``Rule.matches`` on a ``TextView``) are tried, in their order; else every rule, in its order;
- the ``Decision`` of each (task verdict, complexity verdict) cell is built on its first use and kept
  (a policy's cells are finite: rules x levels); a label no rule decided, when the policy has a
  learned model, is the model's, per request (``Router.complete``: its confidence is the request's),
  the rules' verdicts kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .decider import TASK_HEADER, write_decider
from .features import RequestFeatures
from .textview import TextView

if TYPE_CHECKING:
    from collections.abc import Callable

    from .matrix import Decision, Router, Verdict

__all__ = ["TASK_HEADER", "Classifier"]


class Classifier:
    """``decide(features, headers)``: the router's ``Decision`` (see the module docstring)."""

    __slots__ = ("_cells", "_columns", "_header_names", "_levels", "_rules", "decide", "router", "source")

    def __init__(self, router: Router) -> None:
        self.router = router
        self._rules = len(router.task_rules.entries)
        self._levels = len(router.level_rules.entries)
        self._header_names = tuple(router.class_by_name)  # rows after the rules' and the default's
        self._columns = self._levels + 1
        rows = self._rules + 1 + len(self._header_names)
        self._cells: list[Decision | None] = [None] * (rows * self._columns)
        self.source, namespace = write_decider(router, self._columns)
        namespace.update(CELLS=self._cells, cell=self._cell, complete=self._complete, TextView=TextView)
        # a name that says where the source comes from (tracebacks; bench/routing_opcodes.py counts it)
        code = compile(self.source, "<decide, written by /sidecar/routing/decider.py>", "exec")
        exec(code, namespace)
        self.decide: Callable[[RequestFeatures, Mapping[str, str]], Decision] = namespace["decide"]

    def _task_verdict(self, row: int) -> Verdict:
        """Row ``row``'s task verdict: a class rule's, the default class, or a header's."""
        router, rules = self.router, self._rules
        if row < rules:
            return router.task_verdicts[row]
        if row == rules:
            return router.default_task
        return router.header_verdict(self._header_names[row - rules - 1])

    def _cell(self, key: int) -> Decision:
        """The decision of cell ``key`` (row x columns + column), made once."""
        row, column = divmod(key, self._columns)
        router = self.router
        level = router.level_verdicts[column] if column < self._levels else router.default_complexity
        decision = self._cells[key] = router.decision_of(self._task_verdict(row), level)
        return decision

    def _complete(self, features: RequestFeatures, row: int, column: int, view: TextView | None) -> Decision:
        """What the learned model decides of the labels no rule decided (row or column -1)."""
        router = self.router
        task = self._task_verdict(row) if row >= 0 else None
        level = router.level_verdicts[column] if column >= 0 else None
        return router.complete(view or TextView(features), task, level)
