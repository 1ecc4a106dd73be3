"""``Calls.call`` makes no upstream call for a task whose cancel request still stands: a caller gone (or a
hedge lost) whose ``CancelledError`` a library dropped on the way (Python 3.11's ``asyncio.wait_for``
returns a result that was ready when the cancel came: redis-py's commands under a shared budget store's
admission run so). A real sidecar, a fake provider on loopback, and a chain hook (the seam a budget's
``BudgetHook.before_target`` awaits its store through) that awaits under ``asyncio.wait_for`` a future
resolved in the same loop iteration as its task is cancelled."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp.web import StreamResponse

from sidecar.policy.compiled import Target
from sidecar.server.exchange import Exchange
from sidecar.server.hooks import Verdict
from sidecar.server.pipeline import Handler
from sidecar.server.stream_answer import HeldStream

from ..conftest import FakeFactory, SidecarFactory
from .chain import calls, chain_policy


class CancelDroppedOnTheWay:
    """A chain hook whose wait ends with its result and a cancel of its task in one loop iteration:
    ``asyncio.wait_for`` returns the result, the cancel request stands (``dropped``: seen so)."""

    def __init__(self) -> None:
        self.dropped: bool | None = None

    async def before_target(self, exchange: Exchange, target: Target) -> str | None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[None] = loop.create_future()

        def resolve_then_cancel() -> None:
            answer.set_result(None)
            task.cancel()

        loop.call_soon(resolve_then_cancel)
        await asyncio.wait_for(answer, 10)
        self.dropped = task.cancelling() > 0
        return None

    async def after_answer(self, exchange: Exchange, target: Target, answer: StreamResponse | HeldStream) -> Verdict:
        return Verdict.ACCEPT


def hook_stage(hook: CancelDroppedOnTheWay) -> object:
    async def stage(exchange: Exchange, call_next: Handler) -> StreamResponse:
        exchange.hooks = (*exchange.hooks, hook)
        return await call_next(exchange)

    return stage


async def test_a_task_whose_cancel_was_dropped_on_the_way_makes_no_call(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The request's task is cancelled as the hook's awaited answer comes; ``wait_for`` drops the cancel
    and returns: ``Calls.call`` raises it again instead of calling the provider (before the guard, the
    call went out and the provider answered a caller that was gone)."""
    hook = CancelDroppedOnTheWay()
    url = await fake("f0")
    running = await sidecar(chain_policy([url]), stages=[hook_stage(hook)])
    body = {"model": "chain", "messages": [{"role": "user", "content": "hello"}]}
    status: int | None = None
    async with aiohttp.ClientSession() as session:
        try:
            async with session.post(f"{running.url}/v1/chat/completions", json=body) as response:
                await response.read()
                status = response.status
        except aiohttp.ClientError:  # the handler's task was cancelled: no answer
            pass
    assert hook.dropped is True  # the setup: the cancel reached Calls.call still standing
    assert await calls(url) == 0
    assert status is None
