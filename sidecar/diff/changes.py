"""One change between two policies, and the helpers every section uses to find them.

A ``Change`` is what one line of ``llm-sidecar diff`` says: in which section, what happened
(``added``, ``removed``, ``changed``, ``moved``), to what (``subject``: a provider, a model, a route),
and for a change the field with its old and new value, written as text an SRE reads (lists joined by
", ", sets sorted, an absent value ``(unset)``).

``spec_fields(spec)`` flattens a policy block (a pydantic ``Spec``) to dotted paths and texts, and
``field_changes`` compares two such flattenings (a mapping of blocks, a price's ``service_tiers``, by
each block's fields: ``price.service_tiers.flex.input_per_mtok``), so a section compares whole blocks (timeouts, prices,
resilience, breaker...) without naming their fields: a field added to a block shows in the diff
without a change here.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel

UNSET = "(unset)"

Op = Literal["added", "removed", "changed", "moved"]


@dataclass(frozen=True, slots=True)
class Change:
    section: str  # "providers", "models", "routes", "defaults", ...
    op: Op
    subject: str  # "openai", "premium (routes[2])", "breaker"
    field: str = ""  # "timeouts.first_byte_s"; "" for added, removed and moved
    old: str = ""  # the old value (changed), the old place (moved), what was removed
    new: str = ""  # the new value (changed), the new place (moved), what was added


def text(value: Any) -> str:
    """A value as the diff prints it: stable, readable, no Python reprs."""
    if value is None:
        return UNSET
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, frozenset | set):
        return ", ".join(sorted(text(v) for v in value)) or "(none)"
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value) or "(none)"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={text(v)}" for k, v in sorted(value.items())) or "(none)"
    return str(value)


def spec_fields(spec: BaseModel | None, prefix: str = "") -> dict[str, str]:
    """``{"timeouts.connect_s": "5", ...}``: every leaf of a block, nested blocks flattened."""
    if spec is None:
        return {}
    fields: dict[str, str] = {}
    for name in type(spec).model_fields:
        value = getattr(spec, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            fields.update(spec_fields(value, f"{path}."))
        elif isinstance(value, Mapping) and (
            all(isinstance(v, BaseModel) for v in value.values()) if value else _of_blocks(type(spec), name)
        ):
            for key in sorted(value):
                fields.update(spec_fields(value[key], f"{path}.{key}."))
        elif value is not None:
            fields[path] = text(value)
    return fields


def _of_blocks(block: type[BaseModel], name: str) -> bool:
    """Whether ``block``'s field ``name`` maps names to blocks (a price's ``service_tiers``): its leaves are
    their fields, and empty it has none (not a ``(none)`` that a first tier's fields would change)."""
    args = get_args(block.model_fields[name].annotation)
    return len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], BaseModel)


def field_changes(
    section: str, subject: str, old: Mapping[str, str], new: Mapping[str, str], prefix: str = ""
) -> Iterator[Change]:
    """A ``changed`` for every path whose text differs (absent on one side: ``(unset)``), in path order."""
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path, UNSET), new.get(path, UNSET)
        if before != after:
            yield Change(section, "changed", subject, f"{prefix}{path}", before, after)


def keyed_changes(
    section: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    describe: Any,
    fields: Any,
) -> list[Change]:
    """Items matched by name: removed (old order), then per name in new order added or changed.

    ``describe(item) -> str`` is what an added or removed line shows; ``fields(item) -> dict`` the
    flattened fields compared for a name present in both.
    """
    changes = [Change(section, "removed", name, old=describe(old[name])) for name in old if name not in new]
    for name, item in new.items():
        if name not in old:
            changes.append(Change(section, "added", name, new=describe(item)))
        else:
            changes.extend(field_changes(section, name, fields(old[name]), fields(item)))
    return changes


def longest_increasing(values: Iterable[int]) -> set[int]:
    """The values of one longest strictly increasing subsequence (patience sorting)."""
    items = list(values)
    tail_values: list[int] = []  # tail_values[k]: the smallest last value of an increasing run of k+1
    tail_index: list[int] = []  # where that value sits in items
    previous = [-1] * len(items)
    for i, value in enumerate(items):
        k = bisect.bisect_left(tail_values, value)
        previous[i] = tail_index[k - 1] if k else -1
        if k == len(tail_values):
            tail_values.append(value)
            tail_index.append(i)
        else:
            tail_values[k], tail_index[k] = value, i
    kept: set[int] = set()
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        kept.add(items[i])
        i = previous[i]
    return kept
