"""The ``gates:`` block of a route (pydantic, validated at load with path-qualified errors).

::

    gates:
      non_empty: true                # the answer has text or a tool call
      refusal: true                  # or {phrases: [...], defaults: true, within_chars: 200}; false: off
      json_schema: request           # request | off | {schema: {...}}: the request's own schema, none, or this one
      regex: {pattern: '^(yes|no)$', flags: [ignorecase]}   # the answer must contain a match
      on_fail: next_target           # next_target | reask
      max_reasks: 1                  # reask: how many times one target is asked again before moving on
      reask_prompt: "..."            # template with {gate} and {error}
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from ..ensemble.spec import flagged_pattern, regex_flags, valid_pattern, with_shorthand
from ..policy.backtracking import check_backtracking
from ..policy.base import Spec
from .refusal import DEFAULT_WITHIN_CHARS
from .validators import SchemaUnusable, compile_schema

DEFAULT_REASK_PROMPT = (
    "Your previous answer was rejected by a quality check ({gate}): {error}\n"
    "Answer the original request again, correcting this. Reply with the corrected answer only."
)


class RefusalGateSpec(Spec):
    enabled: bool = True
    defaults: bool = Field(True, description="Use the built-in phrase list (docs/ensembles.md).")
    phrases: list[str] = Field(default_factory=list, description="More phrases that mark a refusal.")
    within_chars: int = Field(DEFAULT_WITHIN_CHARS, ge=1, le=100_000, description="Look only at the answer's start.")

    @field_validator("phrases")
    @classmethod
    def _non_blank(cls, value: list[str]) -> list[str]:
        if any(not phrase.strip() for phrase in value):
            raise ValueError("a phrase must not be blank")
        return value


class RegexGateSpec(Spec):
    pattern: str = Field(description="The answer must contain a match (re.search).")
    flags: list[Literal["ignorecase", "multiline", "dotall"]] = Field(default_factory=list)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return valid_pattern(value)

    @model_validator(mode="after")
    def _with_flags(self) -> RegexGateSpec:
        flagged_pattern(self.pattern, self.flags)
        return self

    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern, regex_flags(self.flags))


class JsonSchemaGateSpec(Spec):
    source: Literal["request", "policy", "off"] = Field(
        "request", description="request: the schema the request carries; policy: `schema` for every answer; off."
    )
    schema_: dict[str, Any] | None = Field(None, alias="schema", description="The JSON Schema (source policy).")

    @field_validator("schema_")
    @classmethod
    def _compiles(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        compiled = compile_schema(value) if value is not None else None
        if isinstance(compiled, SchemaUnusable):
            raise ValueError(f"not a usable JSON Schema: {compiled.reason}")
        for where, pattern in _patterns(value, "") if value is not None else ():
            try:
                check_backtracking(pattern)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _schema_iff_policy(self) -> JsonSchemaGateSpec:
        if (self.source == "policy") != (self.schema_ is not None):
            raise ValueError("give schema exactly when source is policy")
        return self


def _patterns(schema: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every regular expression of a JSON Schema (``pattern`` values, ``patternProperties`` keys), with
    where it is (``properties.code.pattern``)."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _patterns(item, f"{where}[{index}]")
        return
    if not isinstance(schema, dict):
        return
    for key, item in schema.items():
        path = f"{where}.{key}" if where else str(key)
        if key == "pattern" and isinstance(item, str):
            yield path, item
        elif key == "patternProperties" and isinstance(item, dict):
            yield from ((f"{path}[{name!r}]", name) for name in item)
        if key != "properties" or not isinstance(item, dict):
            yield from _patterns(item, path)
        else:  # property names are not keywords: a property called "pattern" is not one
            for name, sub in item.items():
                yield from _patterns(sub, f"{path}.{name}")


def _gates_shorthands(schema: dict[str, Any]) -> None:
    with_shorthand(schema, "refusal", {"type": "boolean"})
    with_shorthand(schema, "json_schema", {"enum": ["request", "off"]})


class GatesSpec(Spec):
    model_config = ConfigDict(json_schema_extra=_gates_shorthands)

    non_empty: bool = True
    refusal: RefusalGateSpec = Field(default_factory=RefusalGateSpec, description="true, false, or options.")
    json_schema: JsonSchemaGateSpec = Field(
        default_factory=JsonSchemaGateSpec, description="request (default), off, or {schema: ...} for every answer."
    )
    regex: RegexGateSpec | None = None
    on_fail: Literal["next_target", "reask"] = "next_target"
    max_reasks: int = Field(1, ge=0, le=5, description="on_fail reask: re-asks of one target before the next.")
    reask_prompt: str = Field(DEFAULT_REASK_PROMPT, description="Appended as a user turn; {gate} and {error}.")

    @field_validator("refusal", mode="before")
    @classmethod
    def _refusal_shorthand(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value

    @field_validator("json_schema", mode="before")
    @classmethod
    def _schema_shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"source": value}
        if isinstance(value, dict) and "schema" in value and "source" not in value:
            return {**value, "source": "policy"}
        return value

    @field_validator("reask_prompt")
    @classmethod
    def _has_error(cls, value: str) -> str:
        if "{error}" not in value:
            raise ValueError("the re-ask prompt must contain {error}")
        return value
