"""Do the served answer and a shadow candidate's answer agree?

By a normalizer (the same kinds as ensembles, ``ensemble.normalize``; tool calls by their names and
arguments, ``ensemble.answer_key``): ``agree`` is True when both keys
are equal, False when they differ, None when either answer has no key (not comparable: counted apart).

By a judge: ``agreement_prompt`` fills the template (``{question}``, ``{served}``, ``{candidate}``) and
``parse_agreement`` reads the reply strictly: exactly a JSON object with a boolean ``same`` (a ```json
fence allowed); anything else is None (not comparable).
"""

from __future__ import annotations

from ..answers import AnswerView
from ..ensemble.answer_key import answer_key
from ..ensemble.jsondoc import parse_json
from ..ensemble.judge import defuse, fill
from ..ensemble.normalize import Normalizer

DEFAULT_AGREEMENT_PROMPT = """\
Two answers were given to the same request. Decide whether they agree: whether a user would act the \
same on either (same facts, same labels, same values; wording, order and length do not matter). Reply \
with only this JSON object: {"same": true} or {"same": false}. Write nothing else.

<request>
{question}
</request>

<answer n="1">
{served}
</answer>

<answer n="2">
{candidate}
</answer>"""
_PLACEHOLDERS = ("{question}", "{served}", "{candidate}")


def agree(normalizer: Normalizer, served: AnswerView | str, candidate: AnswerView | str) -> bool | None:
    """Whether the two answers' keys (``ensemble.answer_key``: a tool call's name counts) are equal."""
    served_key, candidate_key = answer_key(normalizer, served), answer_key(normalizer, candidate)
    if served_key is None or candidate_key is None:
        return None
    return served_key == candidate_key


def check_agreement_template(template: str) -> None:
    missing = [name for name in _PLACEHOLDERS if name not in template]
    if missing:
        raise ValueError(f"the agreement prompt must contain {', '.join(missing)}")


def agreement_prompt(template: str, question: str, served: str, candidate: str) -> str:
    values = {
        "question": defuse(question, "request"),
        "served": defuse(served, "answer"),
        "candidate": defuse(candidate, "answer"),
    }
    return fill(template, values)


def parse_agreement(reply: str) -> bool | None:
    value = parse_json(reply)
    if not isinstance(value, dict):
        return None
    same = value.get("same")
    return same if isinstance(same, bool) else None
