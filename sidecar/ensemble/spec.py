"""The ``ensemble:`` block of a route (pydantic, validated at load with path-qualified errors).

::

    ensemble:
      members:                       # 2-5; a model name, or {target: name | [chain], name, weight}
        - gpt-4o-mini
        - {target: [claude-haiku, claude-haiku-eu], weight: 1.5, name: haiku}
      strategy: majority             # majority | confidence | judge
      normalizer: text               # text | json | {kind: json_path, path: ...} | {kind: regex, pattern: ...}
      tie_break: order               # order | weight
      min_members: 1                 # usable answers needed; fewer is an error
      max_calls: null                # upstream calls per request, every member attempt and the judge included
      early_quorum: true             # answer as soon as the winner is certain, cancel the rest
      judge: {target: gpt-4o, prompt: ..., max_tokens: 200}   # strategy judge only

Model names are checked against the policy's ``models`` by the policy compiler (``policy.compile``
resolves every member's chain and the judge's, at their paths: ``routes[0].ensemble.members[1].target``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from ..policy.backtracking import check_backtracking
from ..policy.base import Spec
from .jsondoc import parse_path
from .judge import DEFAULT_JUDGE_PROMPT, check_template

MAX_MEMBERS = 5
_FLAGS = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL}
Chain = str | list[str]


class TextNormalizerSpec(Spec):
    """Trimmed, inner whitespace collapsed, case-folded text."""

    kind: Literal["text"] = "text"


class JsonNormalizerSpec(Spec):
    """Canonical JSON: parsed (a ```json fence is allowed), keys sorted, 1.0 written as 1."""

    kind: Literal["json"] = "json"


class JsonPathNormalizerSpec(Spec):
    """One value inside a JSON answer, e.g. ``label``, ``result.items[0].name``."""

    kind: Literal["json_path"] = "json_path"
    path: str = Field(description="Dot-separated keys and [N] indexes; a leading $. is allowed.")
    casefold: bool = Field(True, description="Trim and case-fold a string value.")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        parse_path(value)
        return value


class RegexNormalizerSpec(Spec):
    """The first match of a regular expression; its group ``answer``, else ``group``, else group 1 if any."""

    kind: Literal["regex"] = "regex"
    pattern: str
    group: int | str | None = Field(None, description="Group number or name; default: `answer`, else 1, else 0.")
    flags: list[Literal["ignorecase", "multiline", "dotall"]] = Field(default_factory=list)
    casefold: bool = Field(True, description="Trim and case-fold the capture.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return valid_pattern(value)

    @model_validator(mode="after")
    def _group_exists(self) -> RegexNormalizerSpec:
        flagged_pattern(self.pattern, self.flags)
        compiled = re.compile(self.pattern, regex_flags(self.flags))
        if isinstance(self.group, int) and not 0 <= self.group <= compiled.groups:
            raise ValueError(f"group: the pattern has {compiled.groups} group(s), not {self.group}")
        if isinstance(self.group, str) and self.group not in compiled.groupindex:
            raise ValueError(f"group: the pattern has no group named {self.group!r}")
        return self


NormalizerSpec = Annotated[
    TextNormalizerSpec | JsonNormalizerSpec | JsonPathNormalizerSpec | RegexNormalizerSpec,
    Field(discriminator="kind"),
]


SHORT_NORMALIZER: dict[str, Any] = {"enum": ["text", "json"], "description": "A normalizer without options."}


def with_shorthand(schema: dict[str, Any], name: str, *short: dict[str, Any]) -> None:
    """Let the JSON Schema of a block accept a field's shorthand forms (which a before-validator
    expands): ``name``'s schema becomes ``anyOf`` the ``short`` forms and the full one."""
    full = schema["properties"][name]
    described = {key: full.pop(key) for key in ("description", "title", "default") if key in full}
    schema["properties"][name] = {"anyOf": [*short, full], **described}


def _ensemble_shorthands(schema: dict[str, Any]) -> None:
    members = schema["properties"]["members"]
    chain = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    members["items"] = {"anyOf": [{"type": "string"}, chain, members["items"]]}
    with_shorthand(schema, "normalizer", SHORT_NORMALIZER)


def valid_pattern(value: str) -> str:
    """``value`` if it compiles as a regular expression that does not backtrack exponentially
    (``policy.backtracking``), else ``ValueError`` saying why."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return check_backtracking(value)


def flagged_pattern(pattern: str, flags: Sequence[str]) -> None:
    """``ValueError`` when ``pattern``, compiled with ``flags``, backtracks exponentially: the field's own
    check (``valid_pattern``) reads it without them, and case folding or ``dotall`` can make two ways of
    matching one text out of a pattern that has one (``(ab|AB)+`` with ``ignorecase``)."""
    if flags:
        try:
            check_backtracking(pattern, regex_flags(flags))
        except ValueError as exc:
            raise ValueError(f"pattern with flags [{', '.join(flags)}]: {exc}") from None


def regex_flags(names: Sequence[str]) -> int:
    flags = 0
    for name in names:
        flags |= _FLAGS[name]
    return flags


class MemberSpec(Spec):
    target: Chain = Field(description="A model name, or a fallback chain of model names (the member's resilience).")
    name: str | None = Field(None, description="Shown in x-sidecar-ensemble and spans; default: the first model.")
    weight: float = Field(1.0, gt=0, le=1000, description="Tie-break weight; vote strength without logprobs.")

    @field_validator("target")
    @classmethod
    def _non_empty(cls, value: Chain) -> Chain:
        if isinstance(value, list) and not value:
            raise ValueError("an empty chain")
        return value

    @property
    def chain(self) -> list[str]:
        return [self.target] if isinstance(self.target, str) else list(self.target)


class JudgeSpec(Spec):
    target: Chain = Field(description="The judge model, or a fallback chain of them (any provider).")
    prompt: str = Field(
        DEFAULT_JUDGE_PROMPT, description="Template with {question}, {candidates} and optionally {count}."
    )
    max_tokens: int = Field(200, ge=1, le=32768, description="Output cap of the judge call.")

    @field_validator("prompt")
    @classmethod
    def _template(cls, value: str) -> str:
        check_template(value)
        return value

    @property
    def chain(self) -> list[str]:
        return [self.target] if isinstance(self.target, str) else list(self.target)


class EnsembleSpec(Spec):
    model_config = ConfigDict(json_schema_extra=_ensemble_shorthands)

    members: list[MemberSpec] = Field(min_length=2, max_length=MAX_MEMBERS)
    strategy: Literal["majority", "confidence", "judge"] = "majority"
    normalizer: NormalizerSpec = Field(default_factory=TextNormalizerSpec)
    tie_break: Literal["order", "weight"] = Field(
        "order", description="Equal votes: the earliest member's answer, or the heavier side (then order)."
    )
    min_members: int = Field(1, ge=1, le=MAX_MEMBERS, description="Usable answers needed; fewer is an error.")
    max_calls: int | None = Field(
        None, ge=2, le=100, description="Upstream calls per request, judge included. Default 2 per member + judge."
    )
    early_quorum: bool = Field(True, description="Answer once the winner is certain; cancel the other calls.")
    judge: JudgeSpec | None = None

    @field_validator("members", mode="before")
    @classmethod
    def _member_shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"target": item} if isinstance(item, str | list) else item for item in value]
        return value

    @field_validator("normalizer", mode="before")
    @classmethod
    def _normalizer_shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> EnsembleSpec:
        if self.strategy == "judge" and self.judge is None:
            raise ValueError("strategy judge needs judge: {target: ...}")
        if self.strategy != "judge" and self.judge is not None:
            raise ValueError(f"judge: only used by strategy judge, not {self.strategy}")
        if self.min_members > len(self.members):
            raise ValueError(f"min_members: {self.min_members} is more than the {len(self.members)} members")
        needed = len(self.members) + (1 if self.judge is not None else 0)
        if self.max_calls is not None and self.max_calls < needed:
            raise ValueError(f"max_calls: {self.max_calls} cannot call every member and the judge once ({needed})")
        names = [member.name for member in self.members if member.name is not None]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"members: the name {duplicates[0]!r} is used twice")
        return self
