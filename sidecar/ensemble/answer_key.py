"""An answer as a vote or a comparison sees it: the key that agrees, and the text a judge reads.

``answer_key(normalizer, view)``: for an answer with tool calls, what the app will *do*: every call's
tool name and its arguments' key (the normalizer applied to the arguments as compact JSON), in order, so
``delete_account({"user": "42"})`` and ``lookup_account({"user": "42"})`` differ, as do one call and two;
None (no key: the answer abstains) when the normalizer finds nothing in a call's arguments. Text beside
the calls ("Let me look that up.") is not part of the key. For an answer without calls: the normalizer
applied to its text.

``answer_text(view)``: the text, then each call as ``[call name({"arguments": ...})]`` on a line of its
own (what the ensemble's judge and the shadow's agreement judge read; the same form ``judge`` gives the
calls in the caller's conversation).

Both accept a plain string for an answer that is text only.
"""

from __future__ import annotations

from ..answers import AnswerView
from .normalize import Normalizer

_CALLS = "\x00calls"  # a text's key starts so only if the text holds a NUL: a text does not agree with a call


def answer_key(normalizer: Normalizer, answer: AnswerView | str) -> str | None:
    """The key that votes for ``answer`` (equal keys agree), or None when it has none."""
    view = AnswerView(answer) if isinstance(answer, str) else answer
    if not view.tool_calls:
        return normalizer(view.text)
    keys = [_CALLS]
    for call in view.tool_calls:
        arguments = normalizer(call.json)
        if arguments is None:
            return None
        keys.extend((call.name, arguments))
    return "\x00".join(keys)


def answer_text(answer: AnswerView | str) -> str:
    """``answer`` as a judge reads it: its text, then its tool calls."""
    if isinstance(answer, str):
        return answer
    calls = [f"[call {call.name}({call.json})]" for call in answer.tool_calls]
    return "\n".join([answer.text, *calls] if answer.text else calls)
