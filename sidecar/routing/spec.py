"""The policy blocks routing owns: what an SRE may write under ``routing:`` and in a
route (``select``, ``split``, ``caps``) and a model (``quality``). Shapes only; ``compile`` checks the
references between them (tier, class and level names) and builds the objects requests read.

Layout (every field is annotated in docs/routing.md)::

    routing:
      tiers:        quality tiers, lowest first                     [economy, standard, premium]
      classes:      task classes, tried in order; rules over features and text
      default_class the task when no class rule matches             general
      complexity:   levels (lowest first, each with a tier and rules; the highest matching level wins)
      task_header:  trust or ignore x-sidecar-task                  ignore
      learned:      a trained router file, the labels it decides and the confidence below which the
                    tier goes one up
      output_tokens, context_headroom: defaults of the cheapest-capable selection
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, model_validator

from ..policy.backtracking import check_backtracking
from ..policy.base import Spec

TextField = Literal["system", "last_user"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"  # class, level and tier names (also the learned router's labels)
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="Lowercase letters, digits, _ . -")]


class NumberTest(Spec):
    """Comparisons that must all hold; a feature the request does not have (no max tokens) fails them."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    eq: float | None = None

    @model_validator(mode="after")
    def _one_at_least(self) -> NumberTest:
        if not self.model_fields_set:
            raise ValueError("set at least one of gt, ge, lt, le, eq")
        return self


class FeatureTests(Spec):
    """Tests over ``RequestFeatures``; all given must hold. Counts (tools, images...) test as booleans."""

    prompt_tokens: NumberTest | None = Field(None, description="Estimated prompt tokens (text, tools, media).")
    max_output_tokens: NumberTest | None = Field(None, description="The max output tokens the request sets.")
    turns: NumberTest | None = Field(None, description="Messages in the conversation, system prompt excluded.")
    last_user_chars: NumberTest | None = Field(None, description="Characters of the last user message.")
    tools: bool | None = Field(None, description="The request declares tools.")
    tool_choice_forced: bool | None = Field(None, description="The request forces a tool call.")
    images: bool | None = None
    audio: bool | None = None
    video: bool | None = None
    files: bool | None = Field(None, description="PDFs and other documents.")
    json_mode: bool | None = Field(None, description="JSON output asked for, with or without a schema.")
    json_schema: bool | None = Field(None, description="JSON output with a schema asked for.")
    stream: bool | None = None
    thinking: bool | None = Field(None, description="The request asks the model to think (reason) first.")


def _keyword(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("an empty keyword")
    if stripped.isascii():
        if not stripped.strip(string.punctuation + " "):
            raise ValueError(f"{value!r} has no letters or digits")
        if stripped[0] in string.punctuation or stripped[-1] in string.punctuation:
            raise ValueError(f"{value!r}: keywords match whole words; for symbols such as 'c++' use a regex")
    return stripped


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return check_backtracking(value)


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value


Keyword = Annotated[str, AfterValidator(_keyword)]
Regex = Annotated[str, AfterValidator(_regex)]
# A string or a list in the file (and in the JSON Schema), a list once validated.
Regexes = Annotated[
    list[Regex],
    BeforeValidator(_listed),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class RuleSpec(Spec):
    """One rule: every part given must hold. Keywords are case-insensitive whole words or phrases."""

    features: FeatureTests | None = None
    keywords: list[Keyword] | None = Field(None, description="Words or phrases; any one matches (see min_keywords).")
    min_keywords: int = Field(1, ge=1, description="How many distinct keywords must appear.")
    regex: Regexes | None = Field(None, description="A Python regular expression or a list; any one matches.")
    in_: list[TextField] = Field(
        ["system", "last_user"], alias="in", min_length=1, description="The texts keywords and regex read."
    )

    @model_validator(mode="after")
    def _something_to_test(self) -> RuleSpec:
        if self.features is None and not self.keywords and not self.regex:
            raise ValueError("a rule needs features, keywords or regex")
        if self.keywords is not None and self.min_keywords > len(self.keywords):
            raise ValueError(f"min_keywords {self.min_keywords} is more than the {len(self.keywords)} keywords")
        if self.keywords is None and "min_keywords" in self.model_fields_set:
            raise ValueError("min_keywords without keywords")
        return self


class TaskClassSpec(Spec):
    name: Name
    description: str | None = None
    rules: list[RuleSpec] = Field(default_factory=list, description="Any one matching makes the request this class.")
    min_tier: str | None = Field(None, description="The lowest tier that may serve this class at any complexity.")
    tier_by_level: dict[str, str] | None = Field(
        None, description="Complexity level -> tier for this class, instead of the level's own tier."
    )
    output_tokens: int | None = Field(None, gt=0, description="Expected output tokens, for cost.")


class LevelSpec(Spec):
    name: Name
    tier: str = Field(description="The tier this complexity needs (classes may override).")
    rules: list[RuleSpec] = Field(default_factory=list)


def _default_levels() -> list[LevelSpec]:
    return [
        LevelSpec(name="simple", tier="economy"),
        LevelSpec(name="medium", tier="standard"),
        LevelSpec(name="complex", tier="premium"),
    ]


class ComplexitySpec(Spec):
    levels: list[LevelSpec] = Field(
        default_factory=_default_levels, min_length=1, description="Lowest first; rules tried from the highest."
    )
    default: str = Field("medium", description="The level when no rule matches (and no model decides).")


class LearnedSpec(Spec):
    file: str = Field(description="A file written by `llm-sidecar router train`; relative to the policy file.")
    decides: list[Literal["task", "complexity"]] = Field(
        ["task", "complexity"], min_length=1, description="What the model decides when no rule matched."
    )
    min_confidence: float = Field(
        0.6, ge=0, le=1, description="Below this probability the request goes one tier up (unsure means up)."
    )


class RoutingSpec(Spec):
    tiers: list[Name] = Field(["economy", "standard", "premium"], min_length=1, description="Lowest first.")
    classes: list[TaskClassSpec] = Field(default_factory=list)
    default_class: Name = Field("general", description="A class name; an undeclared one is a class without rules.")
    complexity: ComplexitySpec = Field(default_factory=ComplexitySpec)
    task_header: Literal["trust", "ignore"] = Field("ignore", description="Whether x-sidecar-task may set the class.")
    learned: LearnedSpec | None = None
    output_tokens: int = Field(512, gt=0, description="Expected output tokens when neither request nor class says.")
    context_headroom: float = Field(
        0.1, ge=0, le=1, description="Margin on the estimated prompt when checking context windows."
    )


# ---------------------------------------------------------------------------------------------------------
# Blocks for routes and models (``policy.spec`` uses them in RouteSpec and ModelSpec)


class SelectSpec(Spec):
    """A route target ``{select: cheapest, from: [...]}``: the cheapest capable model, the rest behind it."""

    select: Literal["cheapest"]
    from_: list[str] | None = Field(None, alias="from", min_length=1, description="Candidates; default: all models.")
    min_tier: str | None = Field(None, description="Raise the tier the decision asks for, never lower it.")


class SplitArmSpec(Spec):
    target: str | list[str] = Field(description="A model name or a fallback chain.")
    weight: float = Field(gt=0, description="Relative share of requests.")
    name: Name | None = Field(None, description="The arm in headers, logs and metrics; default: its first model.")


def _sticky(value: str) -> str:
    if value != "app" and not re.fullmatch(r"header:[!#$%&'*+.^_`|~0-9A-Za-z-]+", value):
        raise ValueError("sticky_by is 'app' or 'header:<name>'")
    return value.lower()


class SplitSpec(Spec):
    arms: list[SplitArmSpec] = Field(
        min_length=1,
        max_length=100,
        description="At most 100: each arm is a label value of the routing metrics, per route, task and tier.",
    )
    sticky_by: Annotated[str, AfterValidator(_sticky)] | None = Field(
        None, description="'app' or 'header:<name>': one key, one arm. Default: random per request."
    )


class CapsSpec(Spec):
    max_output_tokens: int | None = Field(None, gt=0, description="Clamp the request's max output tokens to this.")
    set_when_absent: bool = Field(True, description="Set max_output_tokens when the request has none.")
    max_input_tokens: int | None = Field(None, gt=0, description="Refuse (413) a larger estimated prompt.")


class QualitySpec(Spec):
    """``models.<name>.quality``: the model's tier, and per task class where it differs."""

    tier: str
    tasks: dict[str, str] = Field(default_factory=dict, description="Task class -> tier for that class.")
