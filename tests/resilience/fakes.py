"""Deterministic time for the resilience tests: a fake monotonic clock and a virtual-time event loop."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks: instead of waiting ``timeout`` seconds it moves the loop's virtual clock."""

    def __init__(self) -> None:
        super().__init__()
        self.virtual_now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        ready: list[Any] = super().select(0)
        if not ready and timeout is not None and timeout > 0:
            self.virtual_now += timeout
        elif not ready and timeout is None:
            raise RuntimeError("virtual-time loop would block forever: nothing scheduled")
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose time jumps to the next timer instead of sleeping."""

    def __init__(self) -> None:
        self._virtual_selector = _VirtualSelector()
        super().__init__(self._virtual_selector)

    def time(self) -> float:
        return self._virtual_selector.virtual_now


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()
