"""The gates of one route, built once per policy load, and the check of one answer against them.

``Gates.check(answer, expectation)`` runs, in this order, and stops at the first failure:

1. ``non_empty``    the answer has non-blank text or a tool call
2. ``refusal``      it does not open with a refusal phrase (``refusal``), nor was it content-filtered
3. ``json_schema``  the JSON it had to be is valid and matches the schema: the request's own
                    (``expectation``, from ``schemas.requested_json``) or the policy's
4. ``regex``        its text contains a match of the policy's pattern

It returns None (pass) or a ``GateFailure`` naming the gate, whose ``message`` is meant for both the
re-ask prompt and the caller's error (it quotes schema paths and rules, never the answer itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from ..answers import AnswerView
from .refusal import REFUSAL_PHRASES, RefusalDetector
from .schemas import Expectation
from .spec import GatesSpec
from .validators import SchemaUnusable, SchemaValidator, SchemaValidators, compile_schema


@dataclass(frozen=True, slots=True)
class GateFailure:
    gate: str  # non_empty | refusal | json_schema | regex
    message: str

    def __str__(self) -> str:
        return f"quality gate {self.gate} failed: {self.message}"


@dataclass(frozen=True, slots=True)
class Gates:
    non_empty: bool
    refusal: RefusalDetector | None
    use_request_schema: bool
    policy_schema: SchemaValidator | None
    regex: re.Pattern[str] | None
    validators: SchemaValidators  # the process-wide cache for request schemas

    def check(self, answer: AnswerView, expectation: Expectation | None = None) -> GateFailure | None:
        """None when the answer passes every gate, else the first failure."""
        content = answer.content
        if self.non_empty and not content.strip() and not answer.tool_calls:
            return GateFailure("non_empty", "the answer is empty")
        if self.refusal is not None:
            phrase = self.refusal.phrase(answer.text, answer.finish_reason)
            if phrase is not None:
                return GateFailure("refusal", f"the answer is a refusal ({phrase!r})")
        failure = self._json(answer, expectation)
        if failure is not None:
            return failure
        if self.regex is not None and self.regex.search(content) is None:
            return GateFailure("regex", f"the answer does not match {self.regex.pattern!r}")
        return None

    def _json(self, answer: AnswerView, expectation: Expectation | None) -> GateFailure | None:
        validator: SchemaValidator | SchemaUnusable | None = None
        if self.policy_schema is not None:
            forced = expectation is not None and expectation.where == "tool"
            tool = expectation.tool if expectation is not None and forced else None
            target = Expectation(None, "tool" if forced else "text", tool, "the policy's schema")
            validator = self.policy_schema
        elif self.use_request_schema and expectation is not None:
            target = expectation
            if expectation.schema is not None:
                validator = self.validators.get(expectation.schema)
        else:
            return None
        value, problem = _json_value(answer, target)
        if problem is not None:
            return GateFailure("json_schema", problem)
        if isinstance(validator, SchemaValidator):
            error = validator.error(value)
            if error is not None:
                return GateFailure("json_schema", f"the answer does not match {target.source}: {error}")
        return None


def _json_value(answer: AnswerView, expectation: Expectation) -> tuple[Any, str | None]:
    if expectation.where == "tool":
        call = next((c for c in answer.tool_calls if c.name == expectation.tool), None)
        if call is None:
            return None, f"the answer does not call the required tool {expectation.tool!r}"
        if call.raw is not None:
            return None, f"the arguments of {expectation.tool!r} are not a JSON object"
        return call.arguments, None
    try:
        return orjson.loads(answer.text), None
    except orjson.JSONDecodeError as exc:
        return None, f"the answer is not valid JSON ({expectation.source}): {exc.msg} at character {exc.pos}"


def compile_gates(spec: GatesSpec, validators: SchemaValidators) -> Gates:
    """The gates a policy block describes; ``validators`` is the shared cache for request schemas."""
    refusal = None
    if spec.refusal.enabled:
        phrases = [*(REFUSAL_PHRASES if spec.refusal.defaults else ()), *spec.refusal.phrases]
        refusal = RefusalDetector(phrases, spec.refusal.within_chars)
    policy_schema = None
    if spec.json_schema.schema_ is not None:
        compiled = compile_schema(spec.json_schema.schema_)
        policy_schema = compiled if isinstance(compiled, SchemaValidator) else None  # the spec refused others
    return Gates(
        non_empty=spec.non_empty,
        refusal=refusal,
        use_request_schema=spec.json_schema.source == "request",
        policy_schema=policy_schema,
        regex=spec.regex.compiled() if spec.regex is not None else None,
        validators=validators,
    )
