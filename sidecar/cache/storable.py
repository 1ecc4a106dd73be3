"""Which answers may be stored, on the two facts the rule reads: how the answer ended, and whether it holds
anything (text, reasoning or a call).

``unstorable_by`` is the one rule: ``entry.unstorable`` reads it off an entry, ``pending.whole_verdict`` off
a whole answer's parsed body before any entry is made. A module of its own so that both may import it
(``pending`` builds entries, ``entry`` reads the rule)."""

from __future__ import annotations

from ..translate.common import FinishReason

GOOD_FINISH = frozenset((FinishReason.STOP, FinishReason.STOP_SEQUENCE, FinishReason.TOOL_CALLS))
# read as module globals: an Enum member through its class is not specialized by Python 3.11 (about 975
# instructions a read against 70: docs/benchmarks.md, wave 47 ``plain48``); every stored answer reads both
_LENGTH, _CONTENT_FILTER = FinishReason.LENGTH, FinishReason.CONTENT_FILTER


def unstorable_by(reason: FinishReason | None, answered: bool, *, store_truncated: bool) -> str | None:
    """Why an answer ending with ``reason`` (``answered``: it holds text, reasoning or a call) must not be
    stored, or None when it may be."""
    if reason is None:
        return "unfinished"
    if reason is _LENGTH:
        return None if store_truncated and answered else "truncated"
    if reason is _CONTENT_FILTER:
        return "refused"
    if reason not in GOOD_FINISH:
        return "unfinished"
    if not answered:
        return "empty"
    return None
