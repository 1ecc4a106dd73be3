"""Fixtures shared by the resilience tests."""

from __future__ import annotations

import pytest

from .fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A fake monotonic clock starting at 1000.0 that moves only on ``advance``."""
    return FakeClock()
