"""One request's vote: early quorum, failures, min_members, the deadline, the judge, the call cap, the header."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.ensemble import EnsembleFailure, EnsembleSpec, compile_ensemble


def ensemble(**block: Any):
    block.setdefault("members", ["alpha", "beta", "gamma"])
    return compile_ensemble(EnsembleSpec.model_validate(block))


def test_early_quorum_cancels_the_rest():
    """Two of three agreeing decide at once; the third is reported cancelled."""
    run = ensemble().start()
    a, b, _c = run.ensemble.members
    assert run.answered(a, "Positive") is False
    assert run.answered(b, " positive ") is True
    assert run.running == []
    decision = run.decision
    assert decision is not None
    assert (decision.winner.member, decision.winner.text, decision.decided_by) == (a, "Positive", "quorum")
    assert decision.states == {"alpha": "1", "beta": "1", "gamma": "cancelled"}


def test_a_cancelled_member_casts_no_vote_in_the_count():
    """The header's ``votes`` is the winner's over the answers received: two agreeing answers and a
    cancelled third are 2/2 (docs/ensembles.md), not 2/3."""
    run = ensemble().start()
    a, b, _c = run.ensemble.members
    run.answered(a, "Positive")
    run.answered(b, "positive")
    decision = run.decision
    assert decision is not None
    assert "; votes=2/2; decided=quorum; " in decision.header()


def test_without_early_quorum_waits_for_all():
    """early_quorum: false waits for every member even when the winner is known."""
    run = ensemble(early_quorum=False).start()
    a, b, c = run.ensemble.members
    assert not run.answered(a, "x")
    assert not run.answered(b, "x")
    assert run.answered(c, "y")
    assert run.decision is not None
    assert run.decision.decided_by == "all"
    assert run.decision.states == {"alpha": "1", "beta": "1", "gamma": "2"}


def test_disagreement_waits_and_ties_go_by_order():
    """Three different answers: nothing is certain until the last, then the first member's answer wins."""
    run = ensemble().start()
    a, b, c = run.ensemble.members
    assert not run.answered(b, "two")
    assert not run.answered(c, "three")
    assert run.answered(a, "one")
    assert run.decision is not None
    assert run.decision.winner.member is a
    assert run.decision.votes == "1/3"


def test_tie_break_by_weight():
    """With tie_break: weight, a tie goes to the side whose members weigh more."""
    run = ensemble(members=["alpha", {"target": "beta", "weight": 3}], tie_break="weight").start()
    a, b = run.ensemble.members
    run.answered(a, "x")
    run.answered(b, "y")
    assert run.decision is not None
    assert run.decision.winner.member is b


def test_failed_and_unusable_members_do_not_vote():
    """A failed member and one whose answer does not normalize are left out; the rest decide."""
    run = ensemble(normalizer={"kind": "regex", "pattern": r"\b(yes|no)\b", "flags": ["ignorecase"]}).start()
    a, b, c = run.ensemble.members
    assert not run.failed(a, "upstream 503")
    assert not run.answered(b, "I cannot tell")
    assert run.answered(c, "Yes.")
    assert run.decision is not None
    assert run.decision.winner.key == "yes"
    assert run.decision.states == {"alpha": "failed", "beta": "unusable", "gamma": "1"}


def test_all_members_failing_is_an_error_naming_each():
    """When no member gives a usable answer the request fails with every member's fate."""
    run = ensemble(normalizer="json").start()
    a, b, c = run.ensemble.members
    run.failed(a, "timeout")
    run.answered(b, "not json")
    with pytest.raises(EnsembleFailure) as caught:
        run.failed(c, "upstream 500")
    assert str(caught.value) == (
        "ensemble: 0 usable answer(s) from 3 members, min_members is 1 "
        "(alpha: failed (timeout); beta: unusable; gamma: failed (upstream 500))"
    )


def test_min_members_fails_as_soon_as_hopeless():
    """With min_members 3, the first failure already makes the vote impossible: the rest are cancelled."""
    run = ensemble(min_members=3).start()
    a, b, _c = run.ensemble.members
    run.answered(a, "x")
    with pytest.raises(EnsembleFailure, match=r"min_members is 3.*gamma: cancelled"):
        run.failed(b, "boom")
    assert run.running == []


def test_min_members_delays_early_quorum():
    """A certain winner is not announced before min_members usable answers are in."""
    run = ensemble(members=["alpha", "beta"], min_members=2, tie_break="order").start()
    a, b = run.ensemble.members
    assert not run.answered(a, "x")  # a alone would already win any tie, but one answer is not enough
    assert run.answered(b, "y")
    assert run.decision is not None
    assert run.decision.winner.member is a


def test_deadline_decides_with_what_arrived():
    """close() at the deadline cancels the running members and decides with the answers in."""
    run = ensemble().start()
    _a, _b, c = run.ensemble.members
    run.answered(c, "late?")
    run.close()
    assert run.decision is not None
    assert (run.decision.winner.member, run.decision.decided_by) == (c, "deadline")
    assert run.decision.states == {"alpha": "cancelled", "beta": "cancelled", "gamma": "1"}


def test_confidence_strategy_prefers_the_surer_member():
    """Under confidence one very sure member outvotes two unsure ones that agree with each other."""
    run = ensemble(strategy="confidence", early_quorum=False).start()
    a, b, c = run.ensemble.members
    run.answered(a, "x", 0.3)
    run.answered(b, "x", 0.3)
    run.answered(c, "y", 0.95)
    assert run.decision is not None
    assert run.decision.winner.member is c
    assert run.decision.votes == "0.95/1.55"


JUDGED = {"strategy": "judge", "judge": {"target": "referee"}}


def test_judge_picks_among_distinct_answers():
    """Under judge, distinct answers become numbered candidates (best-supported first); the verdict wins."""
    run = ensemble(**JUDGED).start()
    a, b, c = run.ensemble.members
    run.answered(a, "Paris")
    run.answered(b, "paris ")
    assert run.answered(c, "Lyon") is True
    assert run.decision is None
    assert run.judge_candidates == ("Paris", "Lyon")
    decision = run.judged('{"best": 2}')
    assert (decision.winner.member, decision.decided_by) == (c, "judge")
    assert decision.states == {"alpha": "2", "beta": "2", "gamma": "1"}


@pytest.mark.parametrize("reply", ['{"best": 3}', "Candidate 2 is best", '{"best": "2"}', None])
def test_unparseable_or_failed_judge_falls_back_to_majority(reply):
    """A verdict out of range, in prose, of the wrong type, or a failed judge call: majority decides."""
    run = ensemble(**JUDGED).start()
    a, b, c = run.ensemble.members
    run.answered(a, "Lyon")
    run.answered(b, "Paris")
    run.answered(c, "Paris")
    decision = run.judged(reply)
    assert (decision.winner.text, decision.decided_by) == ("Paris", "judge-fallback")


def test_unanimous_answers_skip_the_judge():
    """When every usable answer agrees there is nothing to judge."""
    run = ensemble(**JUDGED).start()
    for member in run.ensemble.members:
        run.answered(member, "same")
    assert run.judge_candidates == ()
    assert run.decision is not None
    assert run.decision.decided_by == "unanimous"


def test_call_cap():
    """max_calls is two calls per member plus one for a judge, unless the block names it (``server.ensemble``'s
    ``CallCap`` holds the calls to it)."""
    run = ensemble(**JUDGED).start()
    assert run.ensemble.max_calls == 7
    assert ensemble(max_calls=3).start().ensemble.max_calls == 3


def test_member_reported_twice_is_a_bug():
    """Reporting a member that is not running raises: the request path must not double count."""
    run = ensemble().start()
    a = run.ensemble.members[0]
    run.answered(a, "x")
    with pytest.raises(RuntimeError, match="reported twice"):
        run.failed(a, "late failure")


def test_member_names_are_unique():
    """Members without a name take their first model's, with #2 when it is taken."""
    spec = ensemble(members=["gpt", ["gpt", "backup"], {"target": "x", "name": "gpt#2"}])
    assert [member.name for member in spec.members] == ["gpt", "gpt#3", "gpt#2"]


def test_header_says_members_votes_and_winner():
    """x-sidecar-ensemble names strategy, winner, votes, how it was decided and each member's state."""
    run = ensemble(members=["gpt-4o-mini", "claude haiku", "gemini,flash"]).start()
    a, b, c = run.ensemble.members
    run.answered(b, "no")
    run.failed(c, "x")
    run.answered(a, "no")
    assert run.decision is not None
    assert run.decision.header() == (
        "strategy=majority; winner=gpt-4o-mini; votes=2/2; decided=all; "
        "members=gpt-4o-mini:1,claude%20haiku:1,gemini%2Cflash:failed"
    )
