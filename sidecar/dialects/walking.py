"""What a dialect package's feature walkers are given: the ``Tally`` they fill and tolerant readers.

A feature walker (``FeatureWalker``) reads one request body of its dialect and operation, as the app
sent it, into a ``Tally``: plain dict reads, no copies, never raising (a value of an unexpected type is
skipped). Each dialect package keeps its walkers in its ``features`` module and lists them per
operation on its ``WireDialect.feature_walkers``; routing asks the registry
(``registry.feature_walker``) and turns the tally into its ``RequestFeatures``
(``routing.features``). What the walkers of every dialect share is here: the ``Tally`` protocol (what
a walker may write), ``items`` / ``mapping`` (a list or dict, else an empty one) and
``data_uri_type``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Tally(Protocol):
    """What a walker collects (``routing.features.Tally`` is the one implementation).

    ``text`` every text the prompt carries (estimated for tokens; a walker holding a non-empty ``str``
    may append it to ``texts`` itself), ``media`` every media part sent by reference or whose size is
    not read, ``document`` a file sent inline (its MIME type and base64: a PDF's pages are counted),
    ``structured`` values estimated from their JSON (tool schemas, call arguments), ``system`` the
    system prompt's texts, ``last_user`` the texts of the last user message that carries text (tool
    results are not the user's words), ``messages`` the turns, ``thinking`` whether it asks the model to think
    (reason) before answering, ``output_limit`` the request's output
    maximum (its field's value, checked by the tally; a walker may instead set ``max_output_tokens``
    to a value it checked is a positive ``int``). Counts start at 0 and flags false: a walker
    may set only the ones that hold."""

    texts: list[str]
    structured: list[Any]
    system: list[str]
    last_user: list[str]
    messages: int
    tools: int
    tool_choice_forced: bool
    json_mode: bool
    json_schema: bool
    stream: bool
    thinking: bool
    max_output_tokens: int | None

    def text(self, value: Any) -> None: ...

    def media(self, mime: Any, kind: str = "") -> None: ...

    def document(self, mime: Any, data: Any) -> None: ...

    def output_limit(self, value: Any) -> None: ...


FeatureWalker = Callable[[dict[str, Any], Tally], None]


def items(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a dict, else an empty one."""
    return value if isinstance(value, dict) else {}


def data_uri_type(url: Any) -> str:
    """``image/png`` from ``data:image/png;base64,...``; empty for other URLs."""
    if isinstance(url, str) and url.startswith("data:"):
        return url[5 : url.find(";", 5, 80)] if ";" in url[:80] else ""
    return ""
