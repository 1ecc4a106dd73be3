"""llm-sidecar diff shows routing: the routing block's classes and levels, selections, splits, caps, quality."""

from __future__ import annotations

from pathlib import Path

from sidecar.diff import diff_policies
from sidecar.policy import load_policy_bytes

BASE = """
version: 1
providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
models:
  big: {provider: openai, model: gpt-4o, quality: {tier: premium}}
  mini: {provider: openai, model: gpt-4o-mini}
routing:
  classes: [{name: extraction, rules: [{keywords: [extract]}]}]
routes:
  - {name: auto, target: {select: cheapest}}
"""


def changes(old: str, new: str) -> list[tuple[str, str, str, str, str, str]]:
    policies = [load_policy_bytes(text.encode(), "p.yaml") for text in (old, new)]
    return [(c.section, c.op, c.subject, c.field, c.old, c.new) for c in diff_policies(*policies)]


def test_a_changed_class_rule_and_an_added_class_are_shown() -> None:
    """A class whose rules changed shows the old and new rules; a new class is an added line."""
    new = BASE.replace(
        "[{name: extraction, rules: [{keywords: [extract]}]}]",
        "[{name: extraction, rules: [{keywords: [extract, pull]}]}, {name: math, min_tier: standard}]",
    )
    assert changes(BASE, new) == [
        (
            "routing",
            "changed",
            "class extraction",
            "rules",
            '[{"keywords":["extract"]}]',
            '[{"keywords":["extract","pull"]}]',
        ),
        ("routing", "added", "class math", "", "", '{"min_tier":"standard","name":"math"}'),
    ]


def test_selection_caps_and_quality_changes_are_shown() -> None:
    """A route's selection floor and caps, and a model's quality tier, show as changed fields."""
    new = BASE.replace("{select: cheapest}", "{select: cheapest, min_tier: standard}, caps: {max_output_tokens: 50}")
    new = new.replace("quality: {tier: premium}", "quality: {tier: standard}")
    found = changes(BASE, new)
    assert ("models", "changed", "big", "quality.tier", "premium", "standard") in found
    select = [c for c in found if c[3] == "select"]
    assert select and select[0][4:] == ("cheapest of [big, mini]", "cheapest of [big, mini], min tier standard")
    assert any(c[3] == "caps" and "max_output_tokens=50" in c[5] for c in found)


def test_a_retrained_router_file_under_the_same_name_is_shown(
    tmp_path: Path, router_files: tuple[bytes, bytes]
) -> None:
    """The policy bytes unchanged, a rewritten learned router file shows as a changed content hash."""
    text = BASE.replace("routing:\n", "routing:\n  learned: {file: router.json, decides: [task]}\n").replace(
        "[{name: extraction, rules: [{keywords: [extract]}]}]",
        "[{name: extraction}, {name: classification}, {name: code}, {name: math}]",
    )
    path = tmp_path / "p.yaml"
    policies = []
    for content in router_files:
        (tmp_path / "router.json").write_bytes(content)
        policies.append(load_policy_bytes(text.encode(), str(path)))
    found = [(c.section, c.subject, c.field) for c in diff_policies(*policies)]
    assert found == [("routing", "settings", "learned.file (sha256)")]
