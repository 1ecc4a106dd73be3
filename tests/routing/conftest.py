"""A router file trained once per test session on templated prompts (tests/routing/labeled_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .labeled_data import train_router


@pytest.fixture(scope="session")
def router_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_router(tmp_path_factory.mktemp("router") / "router.json")
