"""Every async test here runs twice: on asyncio's own event loop and on uvloop's."""

from ..event_loops import pytest_asyncio_loop_factories

__all__ = ["pytest_asyncio_loop_factories"]
