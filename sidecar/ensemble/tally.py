"""Counting votes: groups of agreeing answers, the winner, and whether the winner is already certain.

A ``Ballot`` is one member's usable answer: its normalized ``key``, its text, and the confidence its
log-probabilities gave (if any). Ballots with equal keys form a ``Group``; a group's ``score`` is the
sum of its members' strengths:

- ``majority``    every member counts 1
- ``confidence``  a member counts its confidence when its provider reported log-probabilities, else its
                  policy ``weight``

The winner has the highest score. Equal scores are broken by ``tie_break``: ``order`` prefers the group
whose earliest member comes first in the policy's list; ``weight`` prefers the larger sum of declared
weights, then order.

``certain_winner`` is the early-quorum test: given the ballots so far and the members still running,
could any outcome of the running ones change the winner? The worst case for the leader is every running
member joining its strongest rival (a rival group or a new answer) with the most strength it could
bring; only if the leader still wins then (ties included, by the tie-break rule with those members
added) is it certain. Running members that fail only help the leader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Strategy = Literal["majority", "confidence", "judge"]
TieBreak = Literal["order", "weight"]


@dataclass(frozen=True, slots=True)
class Member:
    """One ensemble member as compiled from the policy."""

    index: int  # position in the policy's list: the tie-break order
    name: str  # unique within the ensemble (headers, spans)
    targets: tuple[str, ...]  # model names: the member's own fallback chain
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Ballot:
    member: Member
    key: str  # the normalized answer
    text: str  # the answer as the member gave it (what a judge reads)
    confidence: float | None = None  # from log-probabilities, when the provider reported them


@dataclass
class Group:
    """Ballots that agree."""

    key: str
    ballots: list[Ballot] = field(default_factory=list)
    score: float = 0.0
    weight: float = 0.0  # sum of declared weights
    first: int = 1 << 30  # the earliest member index

    @property
    def representative(self) -> Ballot:
        """The ballot whose answer is returned: the earliest member's."""
        return min(self.ballots, key=lambda ballot: ballot.member.index)


def strength(ballot: Ballot, strategy: Strategy) -> float:
    if strategy == "confidence":
        return ballot.confidence if ballot.confidence is not None else ballot.member.weight
    return 1.0


def max_strength(member: Member, strategy: Strategy) -> float:
    """The most a member still running could add to a group."""
    return max(1.0, member.weight) if strategy == "confidence" else 1.0


def tally(ballots: Sequence[Ballot], strategy: Strategy) -> list[Group]:
    """The groups of agreeing ballots, in the order their first ballot arrived."""
    groups: dict[str, Group] = {}
    for ballot in ballots:
        group = groups.get(ballot.key)
        if group is None:
            group = groups[ballot.key] = Group(ballot.key)
        group.ballots.append(ballot)
        group.score += strength(ballot, strategy)
        group.weight += ballot.member.weight
        group.first = min(group.first, ballot.member.index)
    return list(groups.values())


def rank(groups: Sequence[Group], tie_break: TieBreak) -> list[Group]:
    """Groups best first: by score, then the tie-break."""
    return sorted(groups, key=lambda group: _order(group.score, group.weight, group.first, tie_break))


def _order(score: float, weight: float, first: int, tie_break: TieBreak) -> tuple[float, float, int]:
    return (-score, -weight if tie_break == "weight" else 0.0, first)


def certain_winner(
    ballots: Sequence[Ballot], running: Sequence[Member], strategy: Strategy, tie_break: TieBreak
) -> Group | None:
    """The winning group if no outcome of the ``running`` members can change it, else None."""
    ranked = rank(tally(ballots, strategy), tie_break)
    if not ranked:
        return None
    leader = ranked[0]
    if not running:
        return leader
    bound = sum(max_strength(member, strategy) for member in running)
    extra_weight = sum(member.weight for member in running)
    earliest = min(member.index for member in running)
    rivals = [(group.score, group.weight, group.first) for group in ranked[1:]]
    rivals.append((0.0, 0.0, 1 << 30))  # an answer nobody has given yet
    mine = _order(leader.score, leader.weight, leader.first, tie_break)
    for score, weight, first in rivals:
        theirs = _order(score + bound, weight + extra_weight, min(first, earliest), tie_break)
        if not mine < theirs:
            return None
    return leader
