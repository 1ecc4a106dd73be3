"""What the watcher's tests share: two policies (``V1``, ``V2``: the default target differs), a watcher
started on a file with its events recorded (``start``), waiting for a condition (``wait_for``), and
what the serving policy decides (``default_target``, ``task_of`` with the learned router), and a
watcher whose polls a test can wait for (``start_polled``, ``Polls``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.policy import load_policy
from sidecar.policy.watch import PolicyHolder, PolicyWatcher

from .policies import BASE

V1 = BASE + "default: {target: gpt-4o}\n"
V2 = BASE + "default: {target: claude}\n"


async def wait_for(predicate: object, timeout: float = 2.0) -> float:
    """Seconds until predicate() holds; fails after timeout."""
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            pytest.fail(f"not within {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def default_target(holder: PolicyHolder) -> str:
    assert holder.policy.default is not None
    return holder.policy.default.chain[0].name


async def start(path: Path) -> tuple[PolicyHolder, asyncio.Task[None], list[tuple[bool, list[str]]]]:
    holder = PolicyHolder(load_policy(path))
    events: list[tuple[bool, list[str]]] = []
    watcher = PolicyWatcher(str(path), holder, interval=0.1, on_reload=lambda ok, _, errs: events.append((ok, errs)))
    return holder, asyncio.create_task(watcher.run()), events


EXTRACT = "Extract the dates from this invoice: Order 1234 shipped on May 3 to Anna."


def task_of(holder: PolicyHolder, text: str) -> str:
    from sidecar.routing.features import extract_features

    router = holder.policy.router
    assert router is not None
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    return router.decide(extract_features(body, Dialect.OPENAI, Operation.CHAT)).task.label


class Polls:
    """The watcher's ``on_tick``: a test awaits ``next()`` to resume right after the watcher's next poll."""

    def __init__(self) -> None:
        self._polled = asyncio.Event()

    def __call__(self) -> None:
        self._polled.set()

    async def next(self) -> None:
        self._polled.clear()
        await asyncio.wait_for(self._polled.wait(), 5)  # wakes once the poll (its check, then on_tick) is done

    async def past(self, n: int) -> None:
        """Resume after the watcher's next ``n`` polls: what they would have done is done (10: one of them was
        a safety check, which the watcher runs every 10th poll), however slow a loaded machine makes them."""
        for _ in range(n):
            await self.next()


async def start_polled(path: Path) -> tuple[PolicyHolder, asyncio.Task[None], list[tuple[bool, list[str]]], Polls]:
    holder = PolicyHolder(load_policy(path))
    events: list[tuple[bool, list[str]]] = []
    polls = Polls()
    watcher = PolicyWatcher(
        str(path), holder, interval=0.1, on_reload=lambda ok, _, errs: events.append((ok, errs)), on_tick=polls
    )
    return holder, asyncio.create_task(watcher.run()), events, polls
