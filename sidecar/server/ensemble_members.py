"""An ensemble's members (``ensemble.EnsembleRunner``): what each one's walk came to, and what the runner
reads of it.

``MemberResult`` is one member's: its child exchange, and its answer (a 2xx, unsent, waiting for the
vote, counted in the process's held bytes until the vote is over: ``held_bytes``) or why it has none
(its failure, the upstream's own error and whose it is). ``walk_member`` walks the member's chain (asked
again without the log-probabilities the vote added when its chain could not take them); ``ballot`` is
what its answer puts to the vote (its text and tool calls, its confidence); ``upstream_ids`` the
providers' request ids of the answers that came in (``provider_id``), for
``x-sidecar-upstream-request-ids``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from aiohttp.web import Response, StreamResponse

from ..answers import AnswerView, answer_of_body
from ..dialects import Operation
from ..dialects.registry import wire
from ..ensemble import Member
from ..ensemble.confidence import confidence_of
from ..header_text import header_item
from ..held_bytes import VOTED
from ..request_facts import RequestFacts
from .children import refused
from .errors import RequestFailed
from .exchange import Exchange

if TYPE_CHECKING:
    from ..held_bytes import HeldBytes
    from ..policy.compiled import Target

ChildWalk = Callable[[Exchange, Sequence["Target"]], Awaitable[StreamResponse]]


@dataclass(slots=True)
class MemberResult:
    member: Member
    child: Exchange
    response: Response | None = None  # its answer (2xx), unsent
    failure: str = ""  # why it has none
    error: Response | None = None  # the upstream's own error, when it refused the request
    refused_by: Target | None = None  # whose error that is (not the child's answer: a refusal bills nothing)
    unasked: RequestFacts | None = None  # the request without the log-probabilities the vote added
    held: int = 0  # what its answer takes from the process's account until the vote is over (``walk_member``)


_UNTRANSLATED = frozenset(("unsupported_parameter", "untranslatable_request"))
"""The failures of a member's walk for a request its chain could not take, before any call."""


async def walk_member(walk: ChildWalk, held: HeldBytes, result: MemberResult, chain: Sequence[Target]) -> None:
    """Walk the member's ``chain`` (``walk``: the fallback loop's) into ``result``: its answer, or why it has
    none; a chain that cannot take the log-probabilities the vote added is asked again without them. Its
    answer waits for the vote in the process's account (``held``, ``VOTED`` times its size; the runner
    gives it back once the vote is over); past the ceiling it fails as ``held_bytes_full``."""
    try:
        try:
            response = await walk(result.child, chain)
        except RequestFailed as failed:
            if result.unasked is None or failed.code not in _UNTRANSLATED:
                raise
            result.child.facts = result.unasked  # no call was made: ask without the added log-probabilities
            result.child.raw = orjson.dumps(result.unasked.body)
            response = await walk(result.child, chain)
    except RequestFailed as failed:
        result.failure = failure_reason(result.child, failed.code)
        return
    if isinstance(response, Response) and response.status < 400 and isinstance(response.body, bytes):
        size = VOTED * len(response.body)  # the body, its parse, the ballot's text and its key
        if not held.take(size):  # past the process's ceiling (a refusal counted): the vote goes on without it
            result.failure = "held_bytes_full"
            return
        result.response, result.held = response, size
    else:
        result.failure = f"upstream {response.status}"
        result.error = response if isinstance(response, Response) else None
        result.refused_by = refused(result.child)


def upstream_ids(results: list[MemberResult], judge_id: str | None) -> str:
    """``member=id, ...`` for each member's answer whose provider gave a request id, and the judge's."""
    ids = [(result.member.name, provider_id(result.child, result.response)) for result in results]
    ids.append(("judge", judge_id))
    return ", ".join(f"{header_item(name)}={header_item(ident)}" for name, ident in ids if ident)


def provider_id(child: Exchange, response: Response | None) -> str | None:
    """The request id the provider put on ``response`` (the child's answer), in its dialect's header."""
    target = child.answered_by
    if response is None or target is None:
        return None
    name = wire(target.provider.wire_dialect(child.facts.dialect)).request_id_header
    return response.headers.get(name) if name is not None else None


def failure_reason(child: Exchange, code: str) -> str:
    """Why a member has no answer, for the caller's error: its last call's status (``upstream 503``) or
    outcome (``timeout_first_byte``, ``ensemble_call_cap``), else the walk's error code (a gate's
    ``quality_gate_failed``: its last answer came, and was rejected)."""
    last = child.attempts[-1] if child.attempts else None
    if last is None or last.outcome == "ok":
        return code
    return f"upstream {last.status}" if last.status is not None else last.outcome


def ballot(result: MemberResult, logprobs: bool) -> tuple[AnswerView | str, float | None]:
    """The member's answer (its text and tool calls), and its confidence when log-probabilities were asked
    and reported: in the caller's answer, else in its upstream's as it came (a translated answer to a
    caller whose dialect has no place for them)."""
    response = result.response
    assert response is not None and isinstance(response.body, bytes)
    facts = result.child.facts
    view = answer_of_body(response.body, facts.dialect)
    if view is None:
        return "", None
    confidence = None
    if logprobs:
        confidence = confidence_of(orjson.loads(response.body), facts.dialect, facts.operation)
        upstream = result.child.upstream_answer
        if confidence is None and upstream is not None and upstream[1] is not facts.dialect:
            confidence = confidence_of(upstream[2], upstream[1], Operation.CHAT)  # a chat call: ensembles make no other
    return view, confidence
