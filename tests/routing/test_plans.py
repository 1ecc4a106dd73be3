"""Route plans (``routing.plans``): a cheapest selection's chain, taken from the one made at load for the
usual request, is the chain, the expected output and the costs the request's full selection gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .decision_corpus import record_all

RECORDED = Path(__file__).parent / "data" / "decisions.json"


def test_decisions_and_reports_are_those_recorded_before_the_chains_made_at_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over the example routing policy and its variants (tiered prices, a small window, a shortlist of one
    priced model) and a corpus of tasks, complexities, needs, prompt sizes, max tokens, task headers and
    split keys, every route, decision (labels, sources, rules, tier, its headers and access-line fields),
    chain, arm, cap, expected output, expected cost, access-line features and answer header is the one
    recorded from ``7fd35dd``, before the chain was looked up by the decision's labels
    (``tests/routing/decision_corpus.py`` recorded them)."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(name, "test-key")
    recorded = json.loads(RECORDED.read_text())
    outcomes = json.loads(json.dumps(record_all()))  # tuples and floats as the file holds them
    assert len(outcomes) == len(recorded) == 291
    for now, then in zip(outcomes, recorded, strict=True):
        assert now == then, (now["policy"], now["request"])
