"""Waiting for what another task or process does instead of sleeping a guess at how long it takes:
``await until(probe, holds)`` calls ``probe`` (a function or a coroutine function) every 20 ms until
``holds`` is true of what it returns, for at most ``timeout_s`` (10 s: on a machine loaded to a load
average of 30 a step of a few milliseconds can take a second); it returns that value, or the test fails
with the last one seen.

    [line] = await until(lambda: access_lines(running), lambda lines: len(lines) == 1)
    after = await until(lambda: metric_samples(running), lambda s: s.get("llm_sidecar_requests_total") == 1)
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


async def until(
    probe: Callable[[], T | Awaitable[T]],
    holds: Callable[[T], object] = bool,
    timeout_s: float = 10.0,
    every_s: float = 0.02,
) -> T:
    """The first value of ``probe()`` that ``holds`` (see the module docstring)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        seen: T = await value if inspect.isawaitable(value) else value  # type: ignore[assignment]
        if holds(seen):
            return seen
        if time.monotonic() > deadline:
            pytest.fail(f"not so within {timeout_s} s; the last value seen: {seen!r}"[:3000])
        await asyncio.sleep(every_s)
