"""The policy's JSON Schema against the annotated examples of the docs: every field the schema has is
shown (docs/policy.md, with the blocks it hands to docs/budgets.md and docs/ensembles.md), and every
field docs/policy.md's annotated example writes is one the schema has."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from sidecar.policy.schema import policy_json_schema

ROOT = Path(__file__).resolve().parents[2]
ANNOTATED = ("policy.md", "budgets.md", "ensembles.md")  # policy.md's example hands blocks to the others

Path_ = tuple[str, ...]  # a field's place: property names, "[]" for a list item, "*" for any map key


def schema_fields() -> dict[tuple[str, str], set[Path_]]:
    """Every (model, field) of the schema, with each place it can appear in a policy; a map (names to
    values: providers, headers, ...) is the field ``(model, "*")`` at the place of its keys."""
    schema = json.loads(policy_json_schema())
    definitions = schema["$defs"]
    found: dict[tuple[str, str], set[Path_]] = {}

    def walk(node: dict[str, Any], owner: str, path: Path_, stack: tuple[str, ...]) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            if name in stack:  # a recursive model: its fields were met on the way down
                return
            walk(definitions[name], name, path, (*stack, name))
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in node.get(key, ()):
                walk(branch, owner, path, stack)
        if isinstance(node.get("items"), dict):
            walk(node["items"], owner, (*path, "[]"), stack)
        if isinstance(node.get("additionalProperties"), dict):
            found.setdefault((owner, "*"), set()).add((*path, "*"))
            walk(node["additionalProperties"], owner, (*path, "*"), stack)
        for name, sub in node.get("properties", {}).items():
            found.setdefault((owner, name), set()).add((*path, name))
            walk(sub, owner, (*path, name), stack)

    walk(schema, "Policy", (), ())
    return found


def annotated_blocks() -> Iterator[tuple[str, str]]:
    """(doc, text) of every YAML block of the annotated docs."""
    for doc in ANNOTATED:
        for block in re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / doc).read_text(), re.S):
            yield doc, block


def holds(node: Any, path: Path_) -> bool:
    """Whether a parsed example has a value at ``path`` (list layers are looked through)."""
    if not path:
        return True
    if isinstance(node, list):
        return any(holds(item, path) for item in node)
    if not isinstance(node, dict):
        return False
    head, rest = path[0], path[1:]
    if head == "[]":
        return holds(node, rest)
    if head == "*":
        return any(holds(value, rest) for value in node.values())
    return head in node and holds(node[head], rest)


def example_paths(node: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Every key path an example writes, list layers left out."""
    if isinstance(node, list):
        for item in node:
            yield from example_paths(item, path)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield (*path, str(key))
            yield from example_paths(value, (*path, str(key)))


def test_every_schema_field_is_in_an_annotated_example() -> None:
    """Every field of the policy schema is written in an annotated example where it goes, or named in
    the example's comments (a shorthand's long form, a variant of one shown): none is undocumented."""
    blocks = list(annotated_blocks())
    examples = [yaml.safe_load(text) for _, text in blocks]
    comments = "".join(text for _, text in blocks)
    missing = [
        f"{owner}.{name} ({'.'.join(sorted(paths)[0])})"
        for (owner, name), paths in sorted(schema_fields().items())
        if name != "*"
        and not any(holds(example, path) for example in examples for path in paths)
        and not re.search(rf"\b{re.escape(name)}\b", comments)
    ]
    assert missing == []


def test_every_field_of_the_annotated_policy_is_a_schema_field() -> None:
    """Every key docs/policy.md's annotated example writes is a field of the schema at that place (map
    keys, such as provider and model names, stand for any): the example shows no field that is gone."""
    text = (ROOT / "docs" / "policy.md").read_text()
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))  # type: ignore[union-attr]
    places = {tuple(part for part in path if part != "[]") for paths in schema_fields().values() for path in paths}

    def known(path: Path_) -> bool:
        return any(
            len(place) == len(path) and all(a in ("*", b) for a, b in zip(place, path, strict=True)) for place in places
        )

    assert [".".join(p) for p in example_paths(example) if not known(p)] == []


def differences(shown: Any, default: Any, path: str) -> Iterator[str]:
    """Where a shown value differs from the default (blocks compared field by field; a field whose
    default is unset, an optional block, is an example, not a default)."""
    if isinstance(shown, dict) and isinstance(default, dict):
        for key, value in shown.items():
            yield from differences(value, default.get(key), f"{path}.{key}")
    elif default is not None and (sorted(shown) != sorted(default) if isinstance(shown, list) else shown != default):
        yield f"{path}: shown {shown!r}, default {default!r}"


def test_the_annotated_defaults_are_the_codes_defaults() -> None:
    """docs/policy.md's `defaults:` block and the `cache:` store block show the values a policy gets
    when it leaves them out (the built-in resilience merged under DefaultsSpec's own)."""
    from sidecar.policy.compile import BUILTIN_RESILIENCE
    from sidecar.policy.spec import CacheStoreSpec, DefaultsSpec

    text = (ROOT / "docs" / "policy.md").read_text()
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))  # type: ignore[union-attr]
    defaults = DefaultsSpec().model_dump(mode="json", by_alias=True)
    defaults["resilience"] = BUILTIN_RESILIENCE.model_dump(mode="json", by_alias=True)
    shown_cache = {key: value for key, value in example["cache"].items() if key != "redis"}
    wrong = [
        *differences(example["defaults"], defaults, "defaults"),
        *differences(shown_cache, CacheStoreSpec().model_dump(mode="json", by_alias=True), "cache"),
    ]
    assert wrong == []
