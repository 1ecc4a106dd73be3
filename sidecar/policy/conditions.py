"""Route conditions: small pre-compiled predicates over a request's ``RequestFacts``.

Each condition is built once at policy load from one key of a route's ``match`` block and answers two
questions: ``matches(request)`` on the request path (no allocation), and ``why_not(request)`` for
``llm-sidecar explain``. A new kind of condition (task label, complexity, budget) is a new class here,
a field of ``MatchSpec`` and one line in ``build_conditions``; routing, the server and explain do not
change. A condition on the body's content reads ``request.features`` (computed once, on first use).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..dialects import Dialect, Operation
from ..request_facts import CREDENTIAL_HEADERS, RequestFacts
from ..routing.conditions import FeaturesHold, LabelIs
from ..routing.rules import feature_checks
from .spec import MatchSpec

if TYPE_CHECKING:
    from ..routing.matrix import Router


class Condition(Protocol):
    def matches(self, request: RequestFacts) -> bool: ...

    def why_not(self, request: RequestFacts) -> str: ...


class Pattern:
    """Exact strings and shell globs, compiled to one set lookup and at most one regex."""

    __slots__ = ("_exact", "_regex", "text")

    def __init__(self, patterns: str | list[str]) -> None:
        items = [patterns] if isinstance(patterns, str) else list(patterns)
        self.text = ", ".join(items)
        self._exact = frozenset(p for p in items if not _is_glob(p))
        globs = [fnmatch.translate(p) for p in items if _is_glob(p)]
        self._regex = re.compile("|".join(globs)) if globs else None

    @property
    def exact(self) -> frozenset[str]:
        return self._exact

    def __call__(self, value: str) -> bool:
        if value in self._exact:
            return True
        return self._regex is not None and self._regex.match(value) is not None


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


@dataclass(frozen=True, slots=True)
class ModelIs:
    pattern: Pattern

    def matches(self, request: RequestFacts) -> bool:
        return self.pattern(request.model)

    def why_not(self, request: RequestFacts) -> str:
        return f"model {request.model!r} is not {self.pattern.text}"


@dataclass(frozen=True, slots=True)
class HeaderIs:
    name: str
    pattern: Pattern

    def matches(self, request: RequestFacts) -> bool:
        value = request.headers.get(self.name)
        return value is not None and self.pattern(value)

    def why_not(self, request: RequestFacts) -> str:
        value = request.headers.get(self.name)
        if value is None:
            return f"header {self.name} is absent"
        if self.name in CREDENTIAL_HEADERS:  # a route may match on a key; nothing shows one
            return f"header {self.name} (a credential, not shown) is not {self.pattern.text}"
        return f"header {self.name} {value!r} is not {self.pattern.text}"


@dataclass(frozen=True, slots=True)
class AppIs:
    pattern: Pattern

    def matches(self, request: RequestFacts) -> bool:
        return self.pattern(request.app)

    def why_not(self, request: RequestFacts) -> str:
        return f"app {request.app!r} is not {self.pattern.text}"


@dataclass(frozen=True, slots=True)
class DialectIs:
    dialects: frozenset[Dialect]

    def matches(self, request: RequestFacts) -> bool:
        return request.dialect in self.dialects

    def why_not(self, request: RequestFacts) -> str:
        return f"dialect {request.dialect} is not {', '.join(sorted(self.dialects))}"


@dataclass(frozen=True, slots=True)
class OperationIs:
    operations: frozenset[Operation]

    def matches(self, request: RequestFacts) -> bool:
        return request.operation in self.operations

    def why_not(self, request: RequestFacts) -> str:
        return f"operation {request.operation} is not {', '.join(sorted(self.operations))}"


def build_conditions(match: MatchSpec, router: Router | None = None) -> tuple[Condition, ...]:
    """The conditions of one ``match`` block, cheapest first (routing's last: they read the body).
    ``router``: the policy's, for ``task`` and ``complexity`` (checked by the compiler)."""
    conditions: list[Condition] = []
    if match.dialect:
        conditions.append(DialectIs(frozenset(match.dialect)))
    if match.operation:
        operations = {Operation(o) for o in match.operation}
        if Operation.CHAT in operations:  # Gemini's generateContent is a chat in every other dialect
            operations.add(Operation.GENERATE_CONTENT)
        conditions.append(OperationIs(frozenset(operations)))
    if match.model is not None:
        conditions.append(ModelIs(Pattern(match.model)))
    if match.app is not None:
        conditions.append(AppIs(Pattern(match.app)))
    for name, patterns in (match.headers or {}).items():
        conditions.append(HeaderIs(name.lower(), Pattern(patterns)))
    if match.features is not None:
        conditions.append(FeaturesHold(feature_checks(match.features)))
    if router is not None:
        if match.task is not None:
            conditions.append(LabelIs(router, "task", frozenset(_listed(match.task))))
        if match.complexity is not None:
            conditions.append(LabelIs(router, "complexity", frozenset(_listed(match.complexity))))
    return tuple(conditions)
