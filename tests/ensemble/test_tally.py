"""Counting votes: scores, tie-breaks, and the early-quorum certainty test (checked exhaustively)."""

from __future__ import annotations

import itertools

import pytest

from sidecar.ensemble.tally import Ballot, Member, certain_winner, rank, tally

M = [Member(0, "m0", ("m0",), 1.0), Member(1, "m1", ("m1",), 2.0), Member(2, "m2", ("m2",), 1.0)]


def ballot(member: Member, key: str, confidence: float | None = None) -> Ballot:
    return Ballot(member, key, key.upper(), confidence)


def winner(ballots, strategy="majority", tie_break="order"):
    return rank(tally(ballots, strategy), tie_break)[0].key


def test_majority_counts_members():
    """Under majority each member counts one, whatever its weight."""
    assert winner([ballot(M[0], "a"), ballot(M[1], "b"), ballot(M[2], "a")]) == "a"
    groups = tally([ballot(M[0], "a"), ballot(M[1], "b"), ballot(M[2], "a")], "majority")
    assert [(g.key, g.score, g.weight, g.first) for g in groups] == [("a", 2, 2.0, 0), ("b", 1, 2.0, 1)]


def test_tie_broken_by_order_or_weight():
    """A tie goes to the earliest member's answer under ``order`` and to the heavier side under ``weight``."""
    ballots = [ballot(M[0], "a"), ballot(M[1], "b")]
    assert winner(ballots, tie_break="order") == "a"
    assert winner(ballots, tie_break="weight") == "b"
    assert winner([ballot(M[2], "c"), ballot(M[0], "a"), ballot(M[1], "b")]) == "a"  # three-way: member 0


def test_confidence_weighs_by_logprobs_else_weight():
    """Under confidence a member counts its confidence, or its policy weight when it reported none."""
    ballots = [ballot(M[0], "a", 0.9), ballot(M[2], "b", 0.4), ballot(Member(3, "m3", ("m3",), 0.3), "b")]
    assert winner(ballots, "confidence") == "a"  # 0.9 against 0.4 + 0.3
    assert winner([ballot(M[0], "a", 0.9), ballot(M[1], "b")], "confidence") == "b"  # weight 2 without logprobs


def test_representative_is_the_earliest_member():
    """The answer returned for a group is its earliest member's, whatever the arrival order."""
    group = tally([ballot(M[2], "a"), ballot(M[0], "a")], "majority")[0]
    assert group.representative.member is M[0]


def test_two_agreeing_of_three_is_certain():
    """Two of three agreeing settles the vote; two disagreeing does not."""
    assert certain_winner([ballot(M[0], "a"), ballot(M[1], "a")], [M[2]], "majority", "order") is not None
    assert certain_winner([ballot(M[0], "a"), ballot(M[1], "b")], [M[2]], "majority", "order") is None


def test_a_tie_the_leader_would_lose_is_not_certain():
    """2-1 with one member running: a tie is possible, and certain only if the leader wins the tie-break."""
    members = [*M, Member(3, "m3", ("m3",), 5.0)]
    ahead = [ballot(members[0], "a"), ballot(members[1], "a"), ballot(members[2], "b")]
    assert certain_winner(ahead, [members[3]], "majority", "order") is not None  # a's member 0 is first
    assert certain_winner(ahead, [members[3]], "majority", "weight") is None  # b + m3 would weigh 6 > 3
    late = [ballot(members[1], "a"), ballot(members[2], "a"), ballot(members[3], "b")]
    assert certain_winner(late, [members[0]], "majority", "order") is None  # m0 joining b would come first


def test_confidence_quorum_bounds_by_weight():
    """Under confidence a running member may add up to max(1, weight)."""
    heavy = Member(2, "m2", ("m2",), 3.0)
    ballots = [ballot(M[0], "a", 0.9), ballot(M[1], "a", 0.9)]
    assert certain_winner(ballots, [Member(2, "m2", ("m2",), 1.0)], "confidence", "order") is not None
    assert certain_winner(ballots, [heavy], "confidence", "order") is None


OUTCOMES = ("a", "b", None)  # None: the member fails
LATE = ("a", "b", "c", None)  # what a running member may still do: agree, bring a new answer, or fail


@pytest.mark.parametrize("tie_break", ["order", "weight"])
@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (1.0, 2.0, 1.0, 1.5)])
def test_certain_winner_is_exact_for_majority(tie_break, weights):
    """For every answers-so-far and set of running members (4 members): certain_winner names a winner
    exactly when every way the running members can still end gives that winner."""
    members = [Member(index, f"m{index}", (f"m{index}",), weight) for index, weight in enumerate(weights)]
    for outcomes in itertools.product(OUTCOMES, repeat=len(members)):
        for mask in itertools.product((True, False), repeat=len(members)):
            done = [(m, o) for m, o, d in zip(members, outcomes, mask, strict=True) if d]
            running = [m for m, d in zip(members, mask, strict=True) if not d]
            ballots = [ballot(m, o) for m, o in done if o is not None]
            if not ballots:
                continue
            finals = set()
            for late in itertools.product(LATE, repeat=len(running)):
                extra = [ballot(m, o) for m, o in zip(running, late, strict=True) if o is not None]
                finals.add(winner(ballots + extra, tie_break=tie_break))
            certain = certain_winner(ballots, running, "majority", tie_break)
            if certain is None:
                assert len(finals) > 1, (outcomes, mask)
            else:
                assert finals == {certain.key}, (outcomes, mask)
