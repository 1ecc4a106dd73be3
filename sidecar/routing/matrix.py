"""The routing matrix: a request's task class and complexity, and the quality tier they need.

``compile_routing(spec, base_dir=...)`` checks what pydantic cannot see alone (tier, class and level
names that refer to each other, the learned model's labels) and builds a ``Router``; every problem is
collected with its path (``routing.classes[2].min_tier: unknown tier 'gold'``) and raised together as
one ``RoutingError`` (the policy compiler adds its ``errors`` to its own list).

``Router.decide(features, headers)`` answers a ``Decision`` in this order, each label on its own:

    task:        x-sidecar-task (when ``task_header: trust`` and it names a class)
                 -> the first class, in file order, with a matching rule
                 -> the learned model (when it decides the task) -> ``default_class``
    complexity:  the highest level with a matching rule -> the learned model -> ``complexity.default``
    tier:        the class's ``tier_by_level[level]`` or else the level's tier, raised to the class's
                 ``min_tier``; then one tier up when a label the model decided has a confidence below
                 ``learned.min_confidence`` ("unsure means up": a hard prompt on a cheap model is
                 the costly mistake)

Every ``Verdict`` names its source and, for a rule, the rule's path; ``Router.explain`` adds every
rule's verdict for ``llm-sidecar explain``. The request path builds no strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from ..policy.base import Spec
from ..policy.files import DependentFile
from .classify import TASK_HEADER, Classifier
from .errors import RoutingError
from .features import RequestFeatures
from .learned.model import HeadName, LearnedModel, Prediction, RouterFileError, load_model
from .rule_index import RuleIndex
from .rules import Rule, compile_rule
from .spec import RoutingSpec
from .textview import TextView

Source = Literal["header", "rule", "model", "default", "log"]  # log: a replayed access line's label


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one label was decided."""

    label: str
    source: Source
    rule: str | None = None  # the deciding rule's path
    confidence: float = 1.0  # the model's probability; 1 for a header, rule or default


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision of rules alone is made once per policy and (class rule, level rule) pair (``classify``),
    one the learned model took part in once per request. Made by ``make_decision``, which writes what the
    answer reports of it once: never change ``headers`` or ``fields`` (shared by every request of the
    decision). Frozen and slotted, not a named tuple: a routed request reads its fields some seven times
    (the chain's key, the expected output, the metric's labels, the headers, the line's fields, the
    savings' task), each a slot's read (``LOAD_ATTR_SLOT``) where a named tuple's field is a generic
    descriptor's (docs/benchmarks.md, "Wave 56 `route57`")."""

    task: Verdict
    complexity: Verdict
    tier: str  # the lowest tier that may serve the request
    escalated_from: str | None  # the tier before "unsure means up", when it applied
    output_tokens: int  # expected output tokens, for cost
    headers: Mapping[str, str]  # x-sidecar-task, -complexity, -tier (``report.add_answer_headers``)
    fields: Mapping[str, Any]  # the access line's task, complexity and tier fields (``report.observe``)
    # (task label, tier): the key a ``select: cheapest`` plan looks its usual chain up by
    # (``plans.SelectPlan.by_decision``), made once with the decision
    chain_key: tuple[str, str]
    # (task label, complexity label, tier): the decision metric's labels but the route's and the arm's, by
    # which the telemetry core keeps its series (``RequestTrace.routed``), made once with the decision
    labels: tuple[str, str, str]


def make_decision(
    task: Verdict, complexity: Verdict, tier: str, escalated_from: str | None, output_tokens: int
) -> Decision:
    """The ``Decision`` of these labels, with its answer headers and access-line fields."""
    headers = {"x-sidecar-task": task.label, "x-sidecar-complexity": complexity.label, "x-sidecar-tier": tier}
    fields = {
        "task": task.label,
        "task_source": task.source,
        "complexity": complexity.label,
        "complexity_source": complexity.source,
        "tier": tier,
    }
    if escalated_from is not None:
        fields["tier_escalated_from"] = escalated_from
    labels = (task.label, complexity.label, tier)
    return Decision(task, complexity, tier, escalated_from, output_tokens, headers, fields, (task.label, tier), labels)


@dataclass(frozen=True, slots=True)
class TaskClass:
    name: str
    rules: tuple[Rule, ...]
    min_tier: int
    tier_by_level: Mapping[str, int]
    output_tokens: int | None


@dataclass(frozen=True, slots=True)
class Level:
    name: str
    rank: int
    tier: int
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Router:
    tiers: tuple[str, ...]
    classes: tuple[TaskClass, ...]
    class_by_name: Mapping[str, TaskClass]
    levels: tuple[Level, ...]  # lowest first
    level_by_name: Mapping[str, Level]
    default_class: str
    default_level: str
    trust_header: bool
    model: LearnedModel | None
    model_decides: frozenset[HeadName]
    min_confidence: float
    output_tokens: int
    context_headroom: float
    task_rules: RuleIndex = field(init=False)  # classes in file order
    level_rules: RuleIndex = field(init=False)  # levels, highest first
    # Built here once, read per request: each rule's verdict (by its place in the index), the default
    # verdicts, and per (class, level) the tier rank and the expected output tokens.
    task_verdicts: tuple[Verdict, ...] = field(init=False)
    level_verdicts: tuple[Verdict, ...] = field(init=False)
    default_task: Verdict = field(init=False)
    default_complexity: Verdict = field(init=False)
    outcomes: Mapping[tuple[str, str], tuple[int, int]] = field(init=False)
    tier_ranks: Mapping[str, int] = field(init=False)  # tier name -> rank
    # the request path's ``decide`` (``classify.Classifier``)
    classifier: Classifier = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        task_rules = RuleIndex.build([(c.name, c.rules) for c in self.classes])
        level_rules = RuleIndex.build([(lv.name, lv.rules) for lv in reversed(self.levels)])
        outcomes = {}
        for task_class in self.class_by_name.values():
            for level in self.levels:
                rank = max(task_class.tier_by_level.get(level.name, level.tier), task_class.min_tier)
                outcomes[(task_class.name, level.name)] = (rank, task_class.output_tokens or self.output_tokens)
        built = {
            "task_rules": task_rules,
            "level_rules": level_rules,
            "task_verdicts": tuple(Verdict(label, "rule", rule.path) for label, rule in task_rules.entries),
            "level_verdicts": tuple(Verdict(label, "rule", rule.path) for label, rule in level_rules.entries),
            "default_task": Verdict(self.default_class, "default"),
            "default_complexity": Verdict(self.default_level, "default"),
            "outcomes": outcomes,
            "tier_ranks": {tier: rank for rank, tier in enumerate(self.tiers)},
        }
        for name, value in built.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "classifier", Classifier(self))

    @property
    def files(self) -> tuple[DependentFile, ...]:
        """The files compiling read (the learned router): the policy watches them and hashes them in."""
        return () if self.model is None else (DependentFile(self.model.source, self.model.digest),)

    def header_verdict(self, named: str) -> Verdict:
        return Verdict(named, "header")

    def _task_by_header_or_rule(self, view: TextView, headers: Mapping[str, str]) -> Verdict | None:
        if self.trust_header:
            named = headers.get(TASK_HEADER)
            if named is not None and named in self.class_by_name:
                return self.header_verdict(named)
        i = self.task_rules.first_index(view)
        return self.task_verdicts[i] if i >= 0 else None

    def _predictions(self, view: TextView) -> dict[HeadName, Prediction]:
        if self.model is None:
            return {}
        predictions = self.model.predict(view)
        return {head: p for head, p in predictions.items() if head in self.model_decides}

    def decide(self, features: RequestFeatures, headers: Mapping[str, str] | None = None) -> Decision:
        """The request's decision (``classify.Classifier``: the same as ``explain``'s, with less work)."""
        return self.classifier.decide(features, headers or {})

    def decide_by_rules(self, view: TextView, headers: Mapping[str, str]) -> Decision:
        """The decision rule by rule, then by the learned model: what ``explain`` reports (the
        classifier gives the same with less work)."""
        return self._decide(view, headers)

    def _decide(self, view: TextView, headers: Mapping[str, str]) -> Decision:
        task = self._task_by_header_or_rule(view, headers)
        i = self.level_rules.first_index(view)
        return self.complete(view, task, self.level_verdicts[i] if i >= 0 else None)

    def complete(self, view: TextView, task: Verdict | None, complexity: Verdict | None) -> Decision:
        """The decision once the header and the rules have spoken: the learned model (or the default)
        for a label they left open (None)."""
        if task is None or complexity is None:  # the model runs only when a rule did not decide
            predictions = self._predictions(view) if self.model is not None else {}
            if task is None:
                task = _by_model(predictions.get("task"), self.default_task)
            if complexity is None:
                complexity = _by_model(predictions.get("complexity"), self.default_complexity)
        return self.decision_of(task, complexity)

    def decision_of(self, task: Verdict, complexity: Verdict) -> Decision:
        """The tier and expected output of a task and complexity; one tier up when a label the model
        decided is unsure."""
        rank, output = self.outcomes[(task.label, complexity.label)]
        escalated_from = None
        if (
            (task.source == "model" and task.confidence < self.min_confidence)
            or (complexity.source == "model" and complexity.confidence < self.min_confidence)
        ) and rank + 1 < len(self.tiers):
            escalated_from = self.tiers[rank]
            rank += 1
        return make_decision(task, complexity, self.tiers[rank], escalated_from, output)

    def explain(self, features: RequestFeatures, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The decision and every rule's verdict, as plain data for ``llm-sidecar explain``."""
        view = TextView(features)
        decision = self._decide(view, headers or {})
        rules = []
        for task_class in self.classes:
            for rule in task_class.rules:
                rules.append(
                    {
                        "rule": rule.path,
                        "class": task_class.name,
                        "matched": rule.matches(view),
                        "why": rule.explain(view),
                    }
                )
        for level in reversed(self.levels):
            for rule in level.rules:
                rules.append(
                    {"rule": rule.path, "level": level.name, "matched": rule.matches(view), "why": rule.explain(view)}
                )
        report: dict[str, Any] = {
            "task": _verdict(decision.task),
            "complexity": _verdict(decision.complexity),
            "tier": decision.tier,
            "escalated_from": decision.escalated_from,
            "output_tokens": decision.output_tokens,
            "rules": rules,
        }
        if self.model is not None:
            report["model"] = {
                head: [[label, round(p, 3)] for label, p in ranked]
                for head, ranked in self.model.probabilities(view).items()
            }
        return report


def _by_model(predicted: Prediction | None, default: Verdict) -> Verdict:
    if predicted is not None:
        return Verdict(predicted.label, "model", confidence=predicted.confidence)
    return default


def _verdict(verdict: Verdict) -> dict[str, Any]:
    return {
        "label": verdict.label,
        "source": verdict.source,
        "rule": verdict.rule,
        "confidence": round(verdict.confidence, 3),
    }


def compile_routing(spec: RoutingSpec, *, base_dir: Path, path: str = "routing") -> Router:
    """The ``Router`` of a validated ``routing`` block; ``RoutingError`` lists every broken reference."""
    errors: list[str] = []
    tiers = tuple(spec.tiers)
    if len(set(tiers)) != len(tiers):
        errors.append(f"{path}.tiers: a tier appears twice")
    rank = {tier: i for i, tier in enumerate(tiers)}

    def tier_of(name: str, where: str) -> int:
        if name not in rank:
            errors.append(f"{where}: unknown tier {name!r} (tiers: {', '.join(tiers)})")
            return 0
        return rank[name]

    levels = _levels(spec, path, tier_of, errors)
    level_names = {lv.name for lv in levels}
    if spec.complexity.default not in level_names:
        errors.append(f"{path}.complexity.default: unknown level {spec.complexity.default!r}")
    classes = _classes(spec, path, level_names, tier_of, errors)
    class_by_name = {c.name: c for c in classes}
    if spec.default_class not in class_by_name:
        class_by_name[spec.default_class] = TaskClass(spec.default_class, (), 0, {}, None)
    model, decides = _learned(spec, base_dir, path, set(class_by_name), level_names, errors)
    if errors:
        raise RoutingError(errors)
    return Router(
        tiers=tiers,
        classes=tuple(classes),
        class_by_name=class_by_name,
        levels=tuple(levels),
        level_by_name={lv.name: lv for lv in levels},
        default_class=spec.default_class,
        default_level=spec.complexity.default,
        trust_header=spec.task_header == "trust",
        model=model,
        model_decides=decides,
        min_confidence=spec.learned.min_confidence if spec.learned else 0.0,
        output_tokens=spec.output_tokens,
        context_headroom=spec.context_headroom,
    )


def _levels(spec: RoutingSpec, path: str, tier_of: Callable[[str, str], int], errors: list[str]) -> list[Level]:
    levels: list[Level] = []
    for i, level in enumerate(spec.complexity.levels):
        where = f"{path}.complexity.levels[{i}]"
        if any(lv.name == level.name for lv in levels):
            errors.append(f"{where}.name: level {level.name!r} appears twice")
        rules = tuple(compile_rule(r, f"{where}.rules[{j}]") for j, r in enumerate(level.rules))
        levels.append(Level(level.name, i, tier_of(level.tier, f"{where}.tier"), rules))
    return levels


def _classes(
    spec: RoutingSpec, path: str, level_names: set[str], tier_of: Callable[[str, str], int], errors: list[str]
) -> list[TaskClass]:
    classes: list[TaskClass] = []
    for i, cls in enumerate(spec.classes):
        where = f"{path}.classes[{i}]"
        if any(c.name == cls.name for c in classes):
            errors.append(f"{where}.name: class {cls.name!r} appears twice")
        by_level = {}
        for level_name, tier in (cls.tier_by_level or {}).items():
            if level_name not in level_names:
                errors.append(f"{where}.tier_by_level.{level_name}: unknown level {level_name!r}")
            by_level[level_name] = tier_of(tier, f"{where}.tier_by_level.{level_name}")
        min_tier = tier_of(cls.min_tier, f"{where}.min_tier") if cls.min_tier else 0
        rules = tuple(compile_rule(r, f"{where}.rules[{j}]") for j, r in enumerate(cls.rules))
        classes.append(TaskClass(cls.name, rules, min_tier, by_level, cls.output_tokens))
    return classes


def _learned(
    spec: RoutingSpec, base_dir: Path, path: str, classes: set[str], level_names: set[str], errors: list[str]
) -> tuple[LearnedModel | None, frozenset[HeadName]]:
    """The learned router's model (None without one, or when its file is broken) and the heads it decides;
    its labels checked against the classes and levels."""
    if spec.learned is None:
        return None, frozenset()
    where = f"{path}.learned.file"
    decides = frozenset(spec.learned.decides)
    try:
        model = load_model(base_dir / spec.learned.file)
    except RouterFileError as exc:
        errors.extend(f"{where}: {spec.learned.file}: {e}" for e in exc.errors)
        return None, decides
    where = f"{where}: {spec.learned.file}"
    errors.extend(_check_labels(model, decides, classes, level_names, where))
    return model, decides


def _check_labels(
    model: LearnedModel, decides: frozenset[HeadName], classes: set[str], levels: set[str], where: str
) -> list[str]:
    errors = []
    known = {"task": (classes, "a class of routing.classes"), "complexity": (levels, "a level of routing.complexity")}
    for name in sorted(decides):
        head = model.head(name)
        if head is None:
            errors.append(f"{where}: the model has no {name} head, but learned.decides lists it")
            continue
        allowed, what = known[name]
        for label in head.labels:
            if label not in allowed:
                errors.append(f"{where}: {name} label {label!r} is not {what}")
    return errors


class _RoutingDocument(Spec):
    routing: RoutingSpec


def routing_from_document(document: Any, *, base_dir: Path) -> Router:
    """Validate ``{"routing": {...}}`` and compile it; errors carry paths from ``routing.``."""
    try:
        spec = _RoutingDocument.model_validate(document)
    except ValidationError as exc:
        from ..policy.load import format_validation_error  # here: policy.load imports the compiler

        raise RoutingError(format_validation_error(exc)) from None
    return compile_routing(spec.routing, base_dir=base_dir)
