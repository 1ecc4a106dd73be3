"""What happens after a failed gate: ask the same target again with the error, or call the next target.

``next_step(policy, reasks_done, targets_left)`` is the decision, taken after each failed answer:

- ``reask``        (``on_fail: reask`` and fewer than ``max_reasks`` re-asks of this target so far)
- ``next_target``  a later target of the chain is left (a cascade: list the cheapest first)
- ``give_up``      nothing is left: the caller gets an error naming the gate

The request path also stops at the route's deadline and at the ensemble's call cap, whichever comes
first. ``reask_body`` appends the rejected answer and a user turn with the error (``reask_prompt`` with
``{gate}`` and ``{error}`` filled) to a request body in its dialect; the history of earlier re-asks is
kept, so the model sees each of its attempts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ..answers import AnswerView
from ..dialects import Dialect, Operation
from ..dialects.registry import wire
from .checks import GateFailure
from .spec import GatesSpec

Step = Literal["reask", "next_target", "give_up"]


def next_step(policy: GatesSpec, reasks_done: int, targets_left: int) -> Step:
    if policy.on_fail == "reask" and reasks_done < policy.max_reasks:
        return "reask"
    return "next_target" if targets_left > 0 else "give_up"


def reask_text(template: str, failure: GateFailure) -> str:
    return template.replace("{gate}", failure.gate).replace("{error}", failure.message)


def reask_body(
    body: Mapping[str, Any], dialect: Dialect, operation: Operation, answer: AnswerView, prompt: str
) -> dict[str, Any]:
    """``body`` with the rejected ``answer`` and the re-ask ``prompt`` appended as the next two turns
    (its package's ``bodies.append_turns``)."""
    return wire(dialect).bodies.append_turns(body, operation, answer.content, prompt)
