"""diff's output, text and JSON, is the documented stable format (docs/cli.md)."""

from __future__ import annotations

from sidecar.diff import diff_policies, json_report, replay, text_report

from .access_lines import chat
from .policies import edited, policy, production_text

NEW = (
    ("routes:\n", "routes:\n  - name: cheap\n    match: {model: 'gpt-4.1'}\n    target: gpt-4o-mini\n\n"),
    ("    open_s: 5\n", "    open_s: 10\n"),
)
LOG = [chat("gpt-4.1", "default", "gemini-pro", (1000, 100))] * 2 + [chat("claude-3", "claude-family", "claude-sonnet")]


def test_text_report_lists_changes_by_section_then_the_replay() -> None:
    """The text output: the two versions, each section's changes with their marks, the count, then the
    replay summary with moves and the cost estimate."""
    old, new = policy(production_text(), "old.yaml"), edited(*NEW)
    report = text_report(old, new, diff_policies(old, new), replay(old, new, LOG), "access.log")
    assert report == "\n".join(
        [
            f"--- old.yaml (version {old.version})",
            f"+++ new.yaml (version {new.version})",
            "routes:",
            "  + cheap (routes[0]): match model gpt-4.1 -> [gpt-4o-mini]",
            "defaults:",
            "  ~ breaker open_s: 5 -> 10",
            "2 changes",
            "replay of access.log: 3 of 3 lines replayed",
            f"  logged under policy versions: abbf536caaaf (3); old is {old.version}",
            "  old policy picks the logged route for 3 of 3",
            "  routed differently by new: 2 of 3 (66.7%)",
            "         2  default: [gpt-4o-mini, gemini-pro]  =>  cheap: [gpt-4o-mini]  (-$0.004080)",
            "  estimated cost of 3 requests with usage: old $0.009000, new $0.004920 (-$0.004080, -45.3%)",
        ]
    )


def test_json_report_carries_the_same_facts() -> None:
    """--json: versions, every change as an object, and the replay with moves and costs in USD."""
    old, new = policy(production_text(), "old.yaml"), edited(*NEW)
    report = json_report(old, new, diff_policies(old, new), replay(old, new, LOG), "access.log")
    assert report["new"] == {"source": "new.yaml", "version": new.version}
    assert report["changes"][1] == {
        "section": "defaults",
        "op": "changed",
        "subject": "breaker",
        "field": "open_s",
        "old": "5",
        "new": "10",
    }
    assert report["replay"]["moves"] == [
        {
            "requests": 2,
            "old": {"route": "default", "chain": ["gpt-4o-mini", "gemini-pro"], "deny": None},
            "new": {"route": "cheap", "chain": ["gpt-4o-mini"], "deny": None},
            "cost_delta_usd": -0.00408,
        }
    ]
    assert report["replay"]["cost"] == {
        "priced_requests": 3,
        "unpriced_requests": 0,
        "old_usd": 0.009,
        "new_usd": 0.00492,
        "delta_usd": -0.00408,
        "logged_usd": 0.0,
    }


def test_no_changes_says_so() -> None:
    """Two identical policies print the header and `no changes`."""
    old = policy(production_text(), "a.yaml")
    assert text_report(old, old, [], None, "").endswith("\nno changes")
