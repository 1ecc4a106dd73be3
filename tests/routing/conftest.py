"""A router file trained once per test session on templated prompts (tests/routing/labeled_data.py)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sidecar.routing.learned.labeled import read_labeled
from sidecar.routing.learned.train import fit

from .labeled_data import examples, write_jsonl


@pytest.fixture(scope="session")
def router_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("router")
    labeled = write_jsonl(directory / "labeled.jsonl", examples(400, seed=1))
    path = directory / "router.json"
    path.write_bytes(orjson.dumps(fit(read_labeled(labeled))))
    return path
