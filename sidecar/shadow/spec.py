"""The ``shadow:`` block of a route (pydantic, validated at load with path-qualified errors).

::

    shadow:
      candidates: [gpt-4o-mini, gemini-flash]   # 1-5 models also asked, in the background
      sample: 0.05                              # share of requests mirrored (decided by request id)
      normalizer: text                          # how answers are compared (as for ensembles)
      judge: {target: gpt-4o}                   # or: a judge decides whether the two answers agree
      max_concurrent: 4                         # shadow calls in flight at once; beyond, a sample is skipped
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from ..ensemble.spec import SHORT_NORMALIZER, NormalizerSpec, TextNormalizerSpec, with_shorthand
from ..policy.base import Spec
from .compare import DEFAULT_AGREEMENT_PROMPT, check_agreement_template


class ShadowJudgeSpec(Spec):
    target: str | list[str] = Field(description="The judge model, or a fallback chain of them.")
    prompt: str = Field(DEFAULT_AGREEMENT_PROMPT, description="Template with {question}, {served}, {candidate}.")
    max_tokens: int = Field(100, ge=1, le=32768)

    @field_validator("prompt")
    @classmethod
    def _template(cls, value: str) -> str:
        check_agreement_template(value)
        return value


def _shadow_shorthands(schema: dict[str, Any]) -> None:
    with_shorthand(schema, "normalizer", SHORT_NORMALIZER)


class ShadowSpec(Spec):
    model_config = ConfigDict(json_schema_extra=_shadow_shorthands)

    candidates: list[str] = Field(min_length=1, max_length=5, description="Models asked in the background.")
    sample: float = Field(0.05, ge=0, le=1, description="Share of requests mirrored to every candidate.")
    normalizer: NormalizerSpec = Field(default_factory=TextNormalizerSpec)
    judge: ShadowJudgeSpec | None = Field(None, description="Decide agreement with a judge instead of a normalizer.")
    max_concurrent: int = Field(4, ge=1, le=1000, description="Shadow calls in flight; a sample beyond is skipped.")

    @field_validator("normalizer", mode="before")
    @classmethod
    def _normalizer_shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _distinct(self) -> ShadowSpec:
        if len(set(self.candidates)) != len(self.candidates):
            raise ValueError("candidates: a model is listed twice")
        return self
