"""docs/policy.md's annotated example is a whole policy a newcomer can copy: it loads as written (with
the learned router it names next to it), without a warning."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from sidecar.policy.load import load_policy

ROOT = Path(__file__).resolve().parents[2]

LABELED = [  # the labels the example declares: task classes extraction and chat, levels simple to complex
    {"text": "Extract the order number: 1234", "task": "extraction", "complexity": "simple"},
    {"text": "Pull out the invoice number of this bill", "task": "extraction", "complexity": "simple"},
    {"text": "Hello, how are you today?", "task": "chat", "complexity": "medium"},
    {"text": "Prove that the square root of two is irrational, step by step", "task": "chat", "complexity": "complex"},
]


def test_the_annotated_policy_loads_as_written(tmp_path: Path) -> None:
    """The first YAML block of docs/policy.md, saved as a file with a router file beside it, is a valid
    policy with no warning: every model a route names is defined, every block fits the others."""
    from sidecar.routing.learned.labeled import read_labeled
    from sidecar.routing.learned.train import fit

    text = (ROOT / "docs" / "policy.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)  # type: ignore[union-attr]
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_bytes(b"\n".join(orjson.dumps(record) for record in LABELED))
    (tmp_path / "router.json").write_bytes(orjson.dumps(fit(read_labeled(labeled))))
    (tmp_path / "policy.yaml").write_text(example)

    policy = load_policy(tmp_path / "policy.yaml")

    assert list(policy.warnings) == []
    assert [route.name for route in policy.routes] == ["premium", "by-task", "canary", "retired", "classify", "extract"]
