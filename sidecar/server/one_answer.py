"""Routes that judge one answer refuse a request for several.

An ensemble votes on one answer per member and returns the winner; a quality gate checks one answer
(``answers.answer_view``: the first choice). A request for several choices (OpenAI ``n``, Gemini
``candidateCount``) on such a route would either lose the choices it asked for (the ensemble) or get
choices no gate looked at (a gated route), so ``refuse_several_choices`` answers it with a 400
``unsupported_parameter`` naming the field, in the caller's dialect, before any upstream call.
Anthropic and the Responses API have no such field.
"""

from __future__ import annotations

from ..dialects import Dialect
from ..request_facts import RequestFacts
from ..translate import extract_request_params
from .errors import RequestFailed

_FIELD = {Dialect.GEMINI: "candidateCount"}


def refuse_several_choices(facts: RequestFacts, route: str, which: str) -> None:
    """Raise ``RequestFailed`` (400) when ``facts`` asks for more than one choice; ``which`` says which
    one answer ``route`` returns ("the winner of its ensemble's vote")."""
    count = extract_request_params(facts.dialect, facts.body).choice_count
    if count is None or count <= 1:
        return
    field = _FIELD.get(facts.dialect, "n")
    raise RequestFailed(
        400,
        f"route {route!r} returns one answer, {which}: {field}={count} asks for {count};"
        f" send {field}: 1 or use another route",
        code="unsupported_parameter",
        param=field,
    )
