"""A caller that goes away at a moment the test sees, not one it guesses: ``leave_once(running, body,
ready)`` sends ``body`` to the sidecar's chat completions and drops the connection once ``ready()`` (a
function or a coroutine function) is true: a call arrived at a fake, a request waits in a bulkhead's
queue, a reservation is held. A delay in its place (leave after 0.5 s) is overrun on a loaded machine,
where the request may not have got there yet."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import RunningSidecar
from ..waiting import until


async def leave_once(
    running: RunningSidecar, body: dict[str, Any], ready: Callable[[], object], *, compact: bool = False
) -> None:
    """Send ``body``, wait until ``ready()`` holds, then drop the connection; the request must still be
    waiting for its answer then. ``compact``: the body as compact JSON (the bytes an ensemble's members
    send: the same prompt estimate)."""
    sent = {"data": orjson.dumps(body), "headers": {"content-type": "application/json"}} if compact else {"json": body}
    async with aiohttp.ClientSession() as session:
        task = asyncio.ensure_future(session.post(f"{running.url}/v1/chat/completions", **sent))  # type: ignore[arg-type]
        try:
            await until(ready)
        finally:
            task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
