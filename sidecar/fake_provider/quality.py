"""The graded fake model: right, wrong or refusing as its profile says, deterministically.

When a request carries a truth (``truth``), ``decide`` draws the model's ``Verdict`` and ``render`` writes
it as the reply text (bare, in a sentence, as JSON when JSON was asked, broken JSON at ``invalid_json``),
``tool_arguments`` as a forced tool's arguments, ``judge`` answers a judge prompt, and ``logprobs``
gives per-token log-probabilities consistent with the verdict's confidence.

Every draw is a hash of (seed, model, request key, purpose) mapped to [0, 1): the same request to the
same model under the same seed always gets the same answer, different models draw independently, and
the draws do not depend on request order or concurrency. The request key is the truth's spec (its ``id``
included) and every text of the conversation, so a re-ask (the same question with more turns) draws
afresh, and two requests with the same text draw alike unless their ids differ.

Decision order: refusal (``refusal``), then a confidence ``c`` around the class accuracy ``p``
(``p +- spread``, mean ``p``), right with probability ``c`` (so P(right) = p and the model is calibrated),
then broken JSON (``invalid_json``, only when JSON was asked). A wrong answer is the request's ``trap``
(at ``trap``), else another of its ``choices``, else a plausible neighbour of the right value (a number
shifted a little, a text with one letter changed); which one depends on the model, so different wrong
models rarely agree unless the request names a trap.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sidecar.fake_provider.examples import example_arguments
from sidecar.fake_provider.profiles import JUDGE_CLASS, QualityProfile
from sidecar.fake_provider.truth import Truth

REFUSALS = (
    "I'm sorry, but I can't help with that request.",
    "I'm sorry, but I cannot assist with that.",
    "I can't help with that.",
    "I'm unable to help with that request.",
)
PROSE = ("The answer is {}.", "Answer: {}", "I'd say {}.", "Based on the text, {}.")
JUDGE_CANDIDATE = re.compile(r'<candidate n="(\d+)">(.*?)</candidate>', re.DOTALL)
SURE_LOGPROB = -0.0001  # a token the model has no doubt about
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


class Outcome(enum.StrEnum):
    RIGHT = "right"
    WRONG = "wrong"
    REFUSAL = "refusal"


@dataclass(frozen=True)
class Grading:
    """Everything needed to grade one request: its truth, the model's profile, the seed."""

    truth: Truth
    spec: str  # the truth's spec text (its id included)
    profile: QualityProfile
    model: str
    seed: int
    conversation: str  # every text of the conversation: a re-ask (more turns) draws afresh

    @property
    def key(self) -> str:
        """The request key the draws hash: the truth's spec and the conversation."""
        return f"{self.spec}\n{self.conversation}"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    value: str  # what the model answers ("" for a refusal; a candidate number for a judge)
    confidence: float  # the probability the model reports for ``value``
    broken_json: bool  # JSON was asked and comes out broken
    style: float  # a draw in [0, 1) choosing the wording (prose template, refusal text, broken-JSON kind)
    prose: bool  # the answer comes in a sentence

    @property
    def header(self) -> str:
        """The ``x-fake-quality`` header value."""
        broken = ";invalid-json" if self.broken_json else ""
        return f"{self.outcome.value}{broken};confidence={self.confidence:.3f}"


def draw(seed: int, model: str, key: str, purpose: str) -> float:
    """A uniform number in [0, 1) fixed by its inputs."""
    data = f"{seed}\x00{model}\x00{purpose}\x00{key}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big") / 2.0**64


def decide(grading: Grading, *, json_asked: bool) -> Verdict:
    """The model's answer to a request with a truth: right, wrong or a refusal."""
    truth, profile, key = grading.truth, grading.profile, grading.key

    def u(purpose: str) -> float:
        return draw(grading.seed, grading.model, key, purpose)

    confidence = _confidence(profile.accuracy(truth.task), profile.spread, u("confidence"))
    prose = u("prose") < profile.prose
    if u("refusal") < profile.refusal:
        return Verdict(Outcome.REFUSAL, "", confidence, False, u("style"), False)
    broken = json_asked and u("invalid") < profile.invalid_json
    if u("right") < confidence:
        return Verdict(Outcome.RIGHT, truth.answer, confidence, broken, u("style"), prose)
    value = wrong_value(truth, profile, u("trap"), u("wrong"))
    return Verdict(Outcome.WRONG, value, confidence, broken, u("style"), prose)


def _confidence(accuracy: float, spread: float, unit: float) -> float:
    """Uniform in ``accuracy +- s`` (s kept inside [0, 1]): mean ``accuracy``, so P(right) is exact."""
    width = min(spread, accuracy, 1.0 - accuracy)
    return accuracy + width * (2.0 * unit - 1.0)


def wrong_value(truth: Truth, profile: QualityProfile, trap_draw: float, pick: float) -> str:
    """A plausible wrong answer: the trap, another choice, or a neighbour of the right value."""
    if truth.trap is not None and trap_draw < profile.trap:
        return truth.trap
    right = truth.answer.casefold()
    others = [choice for choice in truth.choices if choice.casefold() != right]
    if others:
        return others[int(pick * len(others))]
    return _neighbour(truth.answer, pick)


def _neighbour(value: str, pick: float) -> str:
    try:
        number = int(value)
    except ValueError:
        pass
    else:
        step = max(1, abs(number) // 10)
        offset = 1 + int(pick * 2 * step) % (2 * step)  # 1..2*step
        return str(number + (offset if offset <= step else step - offset))
    try:
        real = float(value)
    except ValueError:
        pass
    else:
        if math.isfinite(real):
            delta = max(abs(real) * 0.1, 1.0) * (0.5 + pick)
            return f"{real + (delta if pick < 0.5 else -delta):g}"
    letters = [index for index, char in enumerate(value) if char.isalpha()]
    if not letters:
        return value + "1"
    at = letters[int(pick * len(letters))]
    old = value[at].lower()
    new = _LETTERS[(_LETTERS.index(old) + 1 + int(pick * 1000) % 25) % 26] if old in _LETTERS else "x"
    new = new.upper() if value[at].isupper() else new
    return value[:at] + new + value[at + 1 :]


# ---------------------------------------------------------------------------------------------------------
# Writing the verdict


@dataclass(frozen=True)
class Written:
    text: str
    value_at: int  # where the answer's value starts in ``text`` (-1: nowhere), for log-probabilities


def render(verdict: Verdict, truth: Truth, *, json_asked: bool, schema: Mapping[str, Any] | None) -> Written:
    """The reply text for a verdict."""
    if verdict.outcome is Outcome.REFUSAL:
        return Written(REFUSALS[int(verdict.style * len(REFUSALS))], -1)
    if json_asked:
        document = json_document(truth.field, verdict.value, schema)
        text = json.dumps(document, ensure_ascii=False)
        value_text = json.dumps(_typed(verdict.value, _value_schema(truth.field, schema)), ensure_ascii=False)
        if verdict.broken_json:
            text = _break(text, verdict.style)
        return Written(text, text.find(value_text))
    if verdict.prose:
        template = PROSE[int(verdict.style * len(PROSE))]
        return Written(template.format(verdict.value), template.index("{}"))
    return Written(verdict.value, 0)


def _break(text: str, style: float) -> str:
    kind = int(style * 4)
    if kind == 0:
        return text[:-1]  # truncated: the closing brace is missing
    if kind == 1:
        return "Sure! Here is the JSON you asked for:\n" + text
    if kind == 2:
        return text.replace('"', "'")  # Python-style quotes
    return text[:-1] + ",}" if text.endswith("}") else text + ","  # a trailing comma


def json_document(name: str, value: str, schema: Mapping[str, Any] | None) -> Any:
    """A JSON answer: the value under ``name`` with the schema's other required properties filled in.

    A schema whose root is not an object gets the bare value; an object schema without ``name`` but
    with exactly one property gets the value there.
    """
    if schema is not None and str(schema.get("type", "object")).lower() != "object":
        return _typed(value, schema)
    document: dict[str, Any] = example_arguments(schema or {})
    target = _target_property(name, schema)
    document[target] = _typed(value, _value_schema(name, schema))
    return document


def tool_arguments(verdict: Verdict, truth: Truth, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A forced tool's arguments: the answer in its property; left out when the JSON comes out broken."""
    document = json_document(truth.field, verdict.value, schema)
    if not isinstance(document, dict):
        document = {truth.field: document}
    if verdict.broken_json:
        document.pop(_target_property(truth.field, schema), None)
    return document


def _target_property(name: str, schema: Mapping[str, Any] | None) -> str:
    properties = (schema or {}).get("properties") or {}
    if name not in properties and len(properties) == 1:
        return str(next(iter(properties)))
    return name


def _value_schema(name: str, schema: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if schema is None:
        return {}
    if str(schema.get("type", "object")).lower() != "object":
        return schema
    properties = schema.get("properties") or {}
    found = properties.get(_target_property(name, schema))
    return found if isinstance(found, Mapping) else {}


def _typed(value: str, schema: Mapping[str, Any]) -> Any:
    """``value`` as the JSON type the schema asks for, when it reads as one."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), None)
    kind = str(kind).lower() if kind else ""
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            real = float(value)
            return int(real) if real.is_integer() and "." not in value else real
    except ValueError:
        return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


# ---------------------------------------------------------------------------------------------------------
# Judging


def judge_candidates(text: str) -> list[tuple[int, str]]:
    """The numbered candidates of a judge prompt (``<candidate n="N">...</candidate>``)."""
    return [(int(number), body.strip()) for number, body in JUDGE_CANDIDATE.findall(text)]


def judge(grading: Grading, candidates: Sequence[tuple[int, str]]) -> Verdict:
    """A judge's verdict: the number of a candidate that holds the truth, right at the ``judge`` accuracy."""
    key = grading.key

    def u(purpose: str) -> float:
        return draw(grading.seed, grading.model, key, purpose)

    profile = grading.profile
    confidence = _confidence(profile.accuracy(JUDGE_CLASS), profile.spread, u("confidence"))
    if u("refusal") < profile.refusal:
        return Verdict(Outcome.REFUSAL, "", confidence, False, u("style"), False)
    broken = u("invalid") < profile.invalid_json
    pattern = re.compile(r"(?<!\w)" + re.escape(grading.truth.answer.casefold()) + r"(?!\w)")
    right = [number for number, body in candidates if pattern.search(body.casefold())]
    wrong = [number for number, _ in candidates if number not in right]
    if right and (u("right") < confidence or not wrong):
        return Verdict(Outcome.RIGHT, str(right[0]), confidence, broken, u("style"), False)
    pool = wrong if right else [number for number, _ in candidates]  # no right candidate: any will do
    return Verdict(Outcome.WRONG, str(pool[int(u("wrong") * len(pool))]), confidence, broken, u("style"), False)


def judge_text(verdict: Verdict) -> str:
    """A judge's reply: ``{"best": N}`` (broken at ``invalid_json``, a refusal at ``refusal``)."""
    if verdict.outcome is Outcome.REFUSAL:
        return REFUSALS[int(verdict.style * len(REFUSALS))]
    text = '{"best": ' + verdict.value + "}"
    return _break(text, verdict.style) if verdict.broken_json else text


# ---------------------------------------------------------------------------------------------------------
# Log-probabilities


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...]  # the most likely tokens at this position, best first


def logprobs(
    tokens: Sequence[str], value_at: int, confidence: float, alternatives: Sequence[str], top: int
) -> tuple[TokenLogprob, ...]:
    """Per-token log-probabilities: the token where the value starts carries ``log(confidence)``.

    Its runners-up are the ``alternatives`` (other labels), sharing the rest of the mass; every other
    token is near-certain. ``top`` bounds the runners-up listed (0: none).
    """
    out: list[TokenLogprob] = []
    offset = 0
    confidence = min(max(confidence, 1e-6), 1.0)
    for token in tokens:
        end = offset + len(token)
        if value_at >= 0 and offset <= value_at < max(end, offset + 1):
            chosen = math.log(confidence)
            share = (1.0 - confidence) / len(alternatives) if alternatives else 0.0
            others = [(alt, math.log(share)) for alt in alternatives if share > 0]
            ranked = sorted([(token, chosen), *others], key=lambda pair: -pair[1])
            out.append(TokenLogprob(token, chosen, tuple(ranked[:top])))
        else:
            out.append(TokenLogprob(token, SURE_LOGPROB, ((token, SURE_LOGPROB),)[:top]))
        offset = end
    return tuple(out)
