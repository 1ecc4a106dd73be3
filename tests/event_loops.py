"""The pytest-asyncio hook that runs every async test of a package twice: on asyncio's own event loop and
on uvloop's (the sidecar's loop in production), whose transports differ. A package opts in by importing
``pytest_asyncio_loop_factories`` into its conftest.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

try:
    import uvloop
except ImportError:  # not installed on Windows
    uvloop = None


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    factories: dict[str, Callable[[], Any]] = {"asyncio": asyncio.new_event_loop}
    if uvloop is not None:
        factories["uvloop"] = uvloop.new_event_loop
    return factories
