"""docs/policy.md's annotated example is a whole policy a newcomer can copy: it loads as written (with
the learned router it names next to it), without a warning; docs/routing.md's annotated blocks load on
its providers and models."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from sidecar.policy.load import load_policy

from .policies import write_router

ROOT = Path(__file__).resolve().parents[2]


def annotated(page: str) -> str:
    """The first YAML block of ``docs/<page>``: its annotated example."""
    return re.search(r"```yaml\n(.*?)```", (ROOT / "docs" / page).read_text(), re.S).group(1)  # type: ignore[union-attr]


def test_the_annotated_policy_loads_as_written(tmp_path: Path) -> None:
    """The first YAML block of docs/policy.md, saved as a file with a router file beside it, is a valid
    policy with no warning: every model a route names is defined, every block fits the others."""
    write_router(tmp_path)
    (tmp_path / "policy.yaml").write_text(annotated("policy.md"))

    policy = load_policy(tmp_path / "policy.yaml")

    assert list(policy.warnings) == []
    assert [route.name for route in policy.routes] == ["premium", "by-task", "canary", "retired", "classify", "extract"]


def test_the_annotated_routing_blocks_load_on_the_annotated_policy(tmp_path: Path) -> None:
    """docs/routing.md's annotated `routing:`, `models:` and `routes:` blocks, put in docs/policy.md's
    example (its models added to the example's), load: the routes match only classes the block declares."""
    document: dict[str, Any] = yaml.safe_load(annotated("policy.md"))
    blocks = yaml.safe_load(annotated("routing.md"))
    document.update(routing=blocks["routing"], routes=blocks["routes"])
    document["models"].update(blocks["models"])
    write_router(tmp_path)
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(document))

    policy = load_policy(tmp_path / "policy.yaml")

    assert [route.name for route in policy.routes] == ["by-task", "canary"]
