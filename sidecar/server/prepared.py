"""The request for one target (``Prepared``), made by ``attempt.prepare`` once per target and read by the
call, the relay and the answer's judge."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..dialects import Dialect, Operation
    from ..policy.compiled import Target
    from ..translate.names import ToolNames


class Prepared:
    """The request for one target, computed once per target (not per retry); not changed once made. A
    slotted class: each field read a slot (96 instructions on Python 3.11), where a ``NamedTuple``'s is its
    ``_tuplegetter`` (241) and a frozen dataclass is made field by field through ``object.__setattr__``
    (docs/benchmarks.md, "Wave 48 `plain49`")."""

    __slots__ = ("body", "dropped", "include_usage", "names", "operation", "target", "url", "wire")

    def __init__(
        self,
        target: Target,
        wire: Dialect,
        url: str,
        body: bytes,
        dropped: tuple[str, ...],
        include_usage: bool,  # the caller asked for the usage chunk of an OpenAI stream
        operation: Operation,  # the operation the target is called for (the Responses API's target: its chat)
        names: ToolNames | None = None,  # the tool names the target refuses, mapped (``translate.names``)
    ) -> None:
        self.target = target
        self.wire = wire
        self.url = url
        self.body = body
        self.dropped = dropped
        self.include_usage = include_usage
        self.operation = operation
        self.names = names
