"""diff --replay on a sampled access log (``access_log.sample``, docs/logs.md): each line with
``sample_rate`` stands for ``1 / sample_rate`` requests, in the counts and the costs, and the report says
the log was sampled."""

from __future__ import annotations

import re

import orjson

from sidecar.diff import diff_policies, json_report, replay, text_report

from .access_lines import chat
from .policies import edited, policy, production_text

CHEAP_FIRST = ("routes:\n", "routes:\n  - name: cheap\n    match: {model: 'gpt-4.1'}\n    target: gpt-4o-mini\n\n")


def sampled(line: bytes, rate: float) -> bytes:
    return orjson.dumps({**orjson.loads(line), "sample_rate": rate})


# 2 lines drawn at 1 in 10 (20 requests) that move, 1 error line kept whole that does not
LOG = [sampled(chat("gpt-4.1", "default", "gemini-pro", (1000, 100)), 0.1)] * 2 + [
    chat("claude-3", "claude-family", "claude-sonnet")
]


def test_sampled_lines_count_and_cost_for_the_requests_they_stand_for() -> None:
    """Two lines at ``sample_rate: 0.1`` and one without: 21 requests, 20 of them moved, costs weighted."""
    old, new = policy(production_text()), edited(CHEAP_FIRST)
    result = replay(old, new, LOG)
    assert (result.replayed, result.sampled_lines, result.requests) == (3, 2, 21)
    assert (result.routed_differently, result.old_agrees_with_log, result.priced) == (20, 21, 21)
    unweighted = replay(old, new, [chat("gpt-4.1", "default", "gemini-pro", (1000, 100))])
    (move,) = result.moves.values()
    assert round(move.cost_delta_usd, 8) == round(20 * (unweighted.new_cost_usd - unweighted.old_cost_usd), 8)


def test_the_text_report_says_the_log_was_sampled() -> None:
    """The text names the sampled lines and the requests they stand for, and counts requests so."""
    old, new = policy(production_text(), "old.yaml"), edited(CHEAP_FIRST)
    report = text_report(old, new, diff_policies(old, new), replay(old, new, LOG), "access.log")
    assert (
        "  sampled log: 2 of 3 lines were written at a sample rate below 1 (sample_rate): the figures below"
        " weight each line by 1 / sample_rate, 21 requests"
    ) in report.splitlines()
    assert "  routed differently by new: 20 of 21 (95.2%)" in report.splitlines()


def test_the_json_report_has_the_requests_and_the_sampled_lines() -> None:
    """``requests`` and ``sampled_lines`` beside the line counts; a rate of 1/3 gives tenths."""
    old, new = policy(production_text()), edited(CHEAP_FIRST)
    log = [sampled(chat("gpt-4.1", "default", "gemini-pro"), 0.3)]
    report = json_report(old, new, diff_policies(old, new), replay(old, new, log), "access.log")["replay"]
    assert (report["lines"], report["replayed"], report["sampled_lines"], report["requests"]) == (1, 1, 1, 3.3)
    assert report["moves"][0]["requests"] == 3.3


def test_an_unsampled_log_reports_whole_counts_and_no_sampled_line() -> None:
    """Without ``sample_rate`` every count is a whole number and the text has no ``sampled log`` line."""
    old, new = policy(production_text()), edited(CHEAP_FIRST)
    log = [chat("gpt-4.1", "default", "gemini-pro")] * 2
    report = json_report(old, new, diff_policies(old, new), replay(old, new, log), "access.log")["replay"]
    assert (report["requests"], report["sampled_lines"], report["routed_differently"]) == (2, 0, 2)
    assert isinstance(report["requests"], int)
    text = text_report(old, new, diff_policies(old, new), replay(old, new, log), "access.log")
    assert "sampled log" not in text


def test_a_changed_sample_is_a_change_of_the_access_log_section() -> None:
    """``access_log: {sample: 0.1, slower_than_s: 2}`` added to a policy that samples nothing (production.yaml
    without its ``access_log`` block and its premium route's own rate): ``access_log`` lines in the diff."""
    text = production_text().split("\n# The access lines are most", 1)[0] + "\n"
    unsampled = re.sub(r"\n +access_log: .*", "", text)
    assert "access_log" not in unsampled
    old = policy(unsampled)
    new = policy(unsampled.replace("routes:\n", "access_log: {sample: 0.1, slower_than_s: 2}\nroutes:\n"), "new.yaml")
    changes = [(c.section, c.op, c.subject, c.field, c.old, c.new) for c in diff_policies(old, new)]
    assert changes == [
        (
            "access_log",
            "changed",
            "sampling",
            "always",
            "(unset)",
            "budget, cache_stale, client_closed, degraded, drain_cut, error, fallback, retry, stream_error",
        ),
        ("access_log", "changed", "sampling", "by", "(unset)", "random"),
        ("access_log", "changed", "sampling", "sample", "1", "0.1"),
        ("access_log", "changed", "sampling", "slower_than_s", "(unset)", "2"),
    ]
