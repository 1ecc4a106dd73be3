"""``EnsembleRun``: one request's vote, fed by the request path as member calls finish. Pure, no I/O.

The request path starts every member (each through its own fallback chain), and reports each outcome::

    run = ensemble.start()
    run.answered(member, answer, confidence)  -> True when nothing more is to wait for: the vote is
    run.failed(member, reason)                   decided, or (strategy judge) the candidates are ready
    run.running                     members still waiting: cancel them once decided
    run.close()                     no more answers will come (all returned, or the deadline): decide with
                                    what is there
    run.judge_candidates            after deciding under ``judge`` with several distinct answers: the texts
                                    to judge (``judge.judge_prompt``); then
    run.judged(reply_text | None)   the judge's reply (None when its call failed)
    run.decision                    the ``Decision`` once decided

The call cap (``max_calls``) is held on the request path (``server.ensemble.CallCap``), not here.

An answer is its text, or an ``answers.AnswerView`` with its tool calls: it votes by ``answer_key`` (the
calls' names and arguments), and a judge reads ``answer_text``. A member whose answer normalizes to
nothing (empty, not JSON, no match) is *unusable* and does not vote.
Under ``majority`` and ``confidence`` with ``early_quorum``, the vote is decided as soon as the winner is
certain (``tally.certain_winner``) and ``min_members`` usable answers are in. When fewer than
``min_members`` usable answers can still arrive, ``EnsembleFailure`` is raised, naming each member's fate.

``Decision.header()`` is the ``x-sidecar-ensemble`` value, e.g.
``strategy=majority; winner=gpt-4o-mini; votes=2/2; decided=quorum; members=gpt-4o-mini:1,haiku:1,flash:cancelled``
where a member's number is the rank of the answer it gave (1 = the winning answer) and the other states are
``failed``, ``unusable`` and ``cancelled``. No answer text appears in it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..answers import AnswerView
from .answer_key import answer_key, answer_text
from .judge import parse_verdict
from .tally import Ballot, Group, Member, Strategy, certain_winner, rank, tally

if TYPE_CHECKING:
    from .compiled import Ensemble

FAILED, UNUSABLE, CANCELLED = "failed", "unusable", "cancelled"


class EnsembleFailure(Exception):
    """Too few usable answers (``min_members``); the message names every member's fate."""


@dataclass(frozen=True, slots=True)
class Decision:
    strategy: str
    winner: Ballot  # the answer returned: the earliest member of the winning group
    groups: tuple[Group, ...]  # best first
    states: Mapping[str, str]  # member name -> rank of its answer ("1" = the winner's), or failed/unusable/cancelled
    decided_by: str  # quorum | all | unanimous | judge | judge-fallback | deadline

    @property
    def votes(self) -> str:
        total = sum(group.score for group in self.groups)
        return f"{_number(self.groups[0].score)}/{_number(total)}"

    def header(self) -> str:
        """The ``x-sidecar-ensemble`` header value (names percent-encoded; no answer text)."""
        members = ",".join(f"{_quote(name)}:{state}" for name, state in self.states.items())
        return (
            f"strategy={self.strategy}; winner={_quote(self.winner.member.name)}; votes={self.votes}; "
            f"decided={self.decided_by}; members={members}"
        )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="-._~/@+#")


class EnsembleRun:
    """One request's vote (see the module docstring for the protocol)."""

    def __init__(self, ensemble: Ensemble) -> None:
        self.ensemble = ensemble
        self.ballots: list[Ballot] = []
        self.fates: dict[str, str] = {}  # member name -> failed/unusable/cancelled, with the reason
        self.running: list[Member] = list(ensemble.members)
        self.decision: Decision | None = None
        self.judge_candidates: tuple[str, ...] = ()
        self._groups: list[Group] = []

    def answered(self, member: Member, answer: AnswerView | str, confidence: float | None = None) -> bool:
        """A member answered (its text, or the whole answer with its tool calls: ``answer_key``); True when
        nothing more is to wait for."""
        self._done(member)
        key = answer_key(self.ensemble.normalizer, answer)
        if key is None:
            self.fates[member.name] = UNUSABLE
        else:
            self.ballots.append(Ballot(member, key, answer_text(answer), confidence))
        return self._check()

    def failed(self, member: Member, reason: str) -> bool:
        """A member's call (its whole chain) failed; True when nothing more is to wait for."""
        self._done(member)
        self.fates[member.name] = f"{FAILED} ({reason})"
        return self._check()

    def close(self) -> None:
        """No more answers will come: members still running are cancelled and the vote is decided."""
        if self.decision is not None or self.judge_candidates:
            return
        deadline = bool(self.running)
        for member in self.running:
            self.fates[member.name] = CANCELLED
        self.running = []
        self._require_enough()
        groups = rank(tally(self.ballots, self._counting()), self.ensemble.tie_break)
        if self.ensemble.strategy == "judge":
            if len(groups) == 1:
                self._decide(groups, "unanimous")
            else:
                self._groups = groups
                self.judge_candidates = tuple(group.representative.text for group in groups)
            return
        self._decide(groups, "deadline" if deadline else "all")

    def judged(self, reply: str | None) -> Decision:
        """The judge's reply text (None when its call failed): its pick wins, else majority decides."""
        if self.decision is not None:
            return self.decision
        if not self.judge_candidates:
            raise RuntimeError("judged() before close() offered candidates")
        groups = self._groups
        verdict = parse_verdict(reply, len(groups)) if reply is not None else None
        if verdict is None:
            return self._decide(groups, "judge-fallback")
        chosen = groups[verdict - 1]
        return self._decide([chosen, *(group for group in groups if group is not chosen)], "judge")

    # -----------------------------------------------------------------------------------------------------

    def _counting(self) -> Strategy:
        # A judge's fallback is a plain majority of the answers.
        return "majority" if self.ensemble.strategy == "judge" else self.ensemble.strategy

    def _done(self, member: Member) -> None:
        if member not in self.running:
            raise RuntimeError(f"member {member.name!r} reported twice or after the decision")
        self.running.remove(member)

    def _check(self) -> bool:
        if self.decision is not None:
            return True
        ensemble = self.ensemble
        if len(self.ballots) + len(self.running) < ensemble.min_members:
            for member in self.running:
                self.fates[member.name] = CANCELLED
            self.running = []
            self._require_enough()
        if not self.running:
            self.close()
            return self.decision is not None or bool(self.judge_candidates)
        if ensemble.strategy == "judge" or not ensemble.early_quorum or len(self.ballots) < ensemble.min_members:
            return False
        counting = self._counting()
        winner = certain_winner(self.ballots, self.running, counting, ensemble.tie_break)
        if winner is None:
            return False
        groups = rank(tally(self.ballots, counting), ensemble.tie_break)
        for member in self.running:
            self.fates[member.name] = CANCELLED
        self.running = []
        self._decide(groups, "quorum")
        return True

    def _require_enough(self) -> None:
        if len(self.ballots) >= self.ensemble.min_members:
            return
        fates = "; ".join(f"{m.name}: {self.fates[m.name]}" for m in self.ensemble.members if m.name in self.fates)
        raise EnsembleFailure(
            f"ensemble: {len(self.ballots)} usable answer(s) from {len(self.ensemble.members)} members, "
            f"min_members is {self.ensemble.min_members} ({fates})"
        )

    def _decide(self, groups: list[Group], how: str) -> Decision:
        ranks = {ballot.member.name: str(number) for number, g in enumerate(groups, 1) for ballot in g.ballots}
        states = {
            member.name: ranks.get(member.name) or self.fates.get(member.name, CANCELLED).split(" ", 1)[0]
            for member in self.ensemble.members
        }
        self.decision = Decision(self.ensemble.strategy, groups[0].representative, tuple(groups), states, how)
        return self.decision
