"""Log-probabilities for the ``confidence`` strategy: ask for them, read a confidence, strip them again.

A member's confidence is the probability of its whole answer, ``exp(sum of token log-probabilities)``:
meant for short answers (labels, numbers, small JSON), where it is the probability the model gave that
answer. Long free-text answers get tiny values; use weights or a judge for those.

Per dialect (bodies as the *upstream* speaks them, after translation):

- OpenAI chat: ask ``logprobs: true``; read ``choices[0].logprobs.content[].logprob``; strip by setting
  ``choices[].logprobs`` to null.
- OpenAI Responses: ask by adding ``message.output_text.logprobs`` to ``include``; read the first text
  part's ``logprobs[].logprob``; strip by emptying ``logprobs``.
- Gemini: ask ``generationConfig.responseLogprobs: true``; read ``logprobsResult.chosenCandidates[]
  .logProbability`` (else ``avgLogprobs`` x ``usageMetadata.candidatesTokenCount``); strip by dropping
  ``logprobsResult`` and ``avgLogprobs``.
- Anthropic: no log-probabilities; such a member votes with its policy ``weight``.

``with_logprobs`` returns a new body and whether it added anything: strip the answer only then, so a
caller who asked for log-probabilities still gets them. A caller whose dialect cannot ask for them
(``askable``: Anthropic) has each member's request asked for them once translated to an OpenAI or Gemini
upstream (``with_logprobs`` on the upstream's body), and its confidence read from that upstream's answer
as it came (``confidence_of`` in the upstream's dialect): the answer translated back has no place for them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

from ..dialects import Dialect, Operation

RESPONSES_INCLUDE = "message.output_text.logprobs"


def askable(dialect: Dialect, operation: Operation) -> bool:
    """Whether a request of ``dialect`` (``operation``) can ask for log-probabilities in its own body."""
    return dialect is Dialect.GEMINI or (
        dialect is Dialect.OPENAI and operation in (Operation.CHAT, Operation.RESPONSES)
    )


def with_logprobs(body: Mapping[str, Any], dialect: Dialect, operation: Operation) -> tuple[dict[str, Any], bool]:
    """``body`` asking for log-probabilities, and True when that was added (False: asked already, or impossible)."""
    out = dict(body)
    if dialect is Dialect.OPENAI and operation is Operation.CHAT:
        if out.get("logprobs") is True:
            return out, False
        out["logprobs"] = True
        return out, True
    if dialect is Dialect.OPENAI and operation is Operation.RESPONSES:
        include = out.get("include")
        include = list(include) if isinstance(include, list) else []
        if RESPONSES_INCLUDE in include:
            return out, False
        out["include"] = [*include, RESPONSES_INCLUDE]
        return out, True
    if dialect is Dialect.GEMINI:
        config = out.get("generationConfig")
        config = dict(config) if isinstance(config, Mapping) else {}
        if config.get("responseLogprobs") is True:
            return out, False
        config["responseLogprobs"] = True
        out["generationConfig"] = config
        return out, True
    return out, False


def confidence_of(body: Mapping[str, Any], dialect: Dialect, operation: Operation) -> float | None:
    """The answer's probability from the log-probabilities in an upstream response, or None when absent."""
    total: float | None = None
    if dialect is Dialect.OPENAI and operation is Operation.CHAT:
        choices = body.get("choices") or []
        logprobs = choices[0].get("logprobs") if choices and isinstance(choices[0], Mapping) else None
        total = _sum(logprobs.get("content") if isinstance(logprobs, Mapping) else None, "logprob")
    elif dialect is Dialect.OPENAI and operation is Operation.RESPONSES:
        total = _sum(_responses_logprobs(body), "logprob")
    elif dialect is Dialect.GEMINI:
        candidates = body.get("candidates") or []
        candidate = candidates[0] if candidates and isinstance(candidates[0], Mapping) else {}
        result = candidate.get("logprobsResult")
        total = _sum(result.get("chosenCandidates") if isinstance(result, Mapping) else None, "logProbability")
        average = candidate.get("avgLogprobs")
        count = (body.get("usageMetadata") or {}).get("candidatesTokenCount")
        if total is None and _is_number(average) and _is_number(count):
            total = float(average) * float(count)
    if total is None:
        return None
    return min(1.0, math.exp(min(total, 0.0)))


def strip_logprobs(body: dict[str, Any], dialect: Dialect, operation: Operation) -> dict[str, Any]:
    """Remove the log-probabilities ``with_logprobs`` made the upstream add (in place; returns ``body``)."""
    if dialect is Dialect.OPENAI and operation is Operation.CHAT:
        for choice in body.get("choices") or []:
            if isinstance(choice, dict) and "logprobs" in choice:
                choice["logprobs"] = None
    elif dialect is Dialect.OPENAI and operation is Operation.RESPONSES:
        for part in _responses_parts(body):
            if "logprobs" in part:
                part["logprobs"] = []
    elif dialect is Dialect.GEMINI:
        for candidate in body.get("candidates") or []:
            if isinstance(candidate, dict):
                candidate.pop("logprobsResult", None)
                candidate.pop("avgLogprobs", None)
    return body


def _responses_parts(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        part
        for item in body.get("output") or []
        if isinstance(item, Mapping) and item.get("type") == "message"
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") == "output_text"
    ]


def _responses_logprobs(body: Mapping[str, Any]) -> Any:
    parts = _responses_parts(body)
    return parts[0].get("logprobs") if parts else None


def _sum(items: Any, key: str) -> float | None:
    if not isinstance(items, list) or not items:
        return None
    values = [item.get(key) for item in items if isinstance(item, Mapping)]
    numbers = [float(value) for value in values if _is_number(value)]
    if not numbers or len(numbers) != len(items):
        return None
    return sum(numbers)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
