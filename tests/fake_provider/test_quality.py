"""The graded fake model (pure): determinism, rates, plausible wrong answers, JSON, judging, log-probabilities."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from sidecar.fake_provider.profiles import QualityProfile
from sidecar.fake_provider.quality import (
    PROSE,
    REFUSALS,
    Grading,
    Outcome,
    decide,
    judge,
    judge_candidates,
    judge_text,
    logprobs,
    render,
    tool_arguments,
    wrong_value,
)
from sidecar.fake_provider.truth import Truth

LABELS = ("positive", "negative", "neutral", "mixed")
N = 4000


def grading(right: float = 1.0, *, model: str = "m", seed: int = 0, truth: Truth | None = None, **profile: float):
    truth = truth or Truth("positive", task="sentiment", choices=LABELS)
    return Grading(truth, "spec", QualityProfile(right={"*": right}, **profile), model, seed, "q")


def asked(g: Grading, conversation: str) -> Grading:
    return dataclasses.replace(g, conversation=conversation)


def verdicts(g: Grading, *, json_asked: bool = False, n: int = N):
    return [decide(asked(g, f"question {index}"), json_asked=json_asked) for index in range(n)]


def test_same_request_same_answer():
    """One request to one model under one seed always gets the same verdict; another seed draws anew."""
    g = grading(0.5)
    assert verdicts(g, n=50) == verdicts(g, n=50)
    other = grading(0.5, seed=1)
    assert [v.value for v in verdicts(g, n=200)] != [v.value for v in verdicts(other, n=200)]


def test_spec_and_conversation_make_the_key():
    """The same text with different truth ids draws independently; more turns (a re-ask) draw afresh."""
    by_id = [decide(dataclasses.replace(grading(0.5), spec=f"id={index}"), json_asked=False) for index in range(40)]
    assert len({v.value for v in by_id}) > 1
    turns = [decide(asked(grading(0.5), "q" + "\nagain" * index), json_asked=False) for index in range(40)]
    assert len({v.value for v in turns}) > 1


@pytest.mark.parametrize("right", [0.7, 0.75, 0.8, 0.95])
def test_accuracy_matches_profile(right):
    """Over 4,000 requests the share of right answers is the profile's probability (within 4 sigma)."""
    share = sum(v.outcome is Outcome.RIGHT for v in verdicts(grading(right))) / N
    assert abs(share - right) < 4 * math.sqrt(right * (1 - right) / N)


def test_task_class_picks_accuracy():
    """The task class selects the accuracy; a class not listed takes the ``*`` entry."""
    profile = QualityProfile(right={"hard": 0.2, "*": 0.9})
    hard = Grading(Truth("a", task="hard", choices=("a", "b")), "s", profile, "m", 0, "")
    easy = Grading(Truth("a", task="other", choices=("a", "b")), "s", profile, "m", 0, "")
    assert sum(v.outcome is Outcome.RIGHT for v in verdicts(hard, n=1000)) < 300
    assert sum(v.outcome is Outcome.RIGHT for v in verdicts(easy, n=1000)) > 850


def test_wrong_answers_are_other_choices():
    """A wrong answer is another of the request's choices, never the right one."""
    wrong = [v.value for v in verdicts(grading(0.0), n=600)]
    assert set(wrong) == {"negative", "neutral", "mixed"}


def test_wrong_models_disagree_unless_trapped():
    """Two models wrong on the same request pick the same wrong label about 1 time in 3 (3 wrong labels);
    with a trap in the truth they all give the trap."""
    a = [v.value for v in verdicts(grading(0.0, model="a"), n=1500)]
    b = [v.value for v in verdicts(grading(0.0, model="b"), n=1500)]
    same = sum(x == y for x, y in zip(a, b, strict=True)) / 1500
    assert 0.28 < same < 0.39
    trapped = Truth("positive", choices=LABELS, trap="neutral")
    assert {v.value for v in verdicts(grading(0.0, model="c", truth=trapped), n=200)} == {"neutral"}


def test_wrong_without_choices_is_a_neighbour():
    """Without choices a wrong number is a nearby number and a wrong text differs by one letter."""
    number = Truth("1200")
    text = Truth("Paris")
    profile = QualityProfile()
    for pick in (0.0, 0.3, 0.7, 0.99):
        value = int(wrong_value(number, profile, 1.0, pick))
        assert value != 1200
        assert abs(value - 1200) <= 240
        word = wrong_value(text, profile, 1.0, pick)
        assert word != "Paris"
        assert len(word) == 5
        assert sum(x != y for x, y in zip(word, "Paris", strict=True)) == 1


def test_refusal_rate_and_text():
    """Refusals come at the profile's rate, carry no value, and read as one of ``REFUSALS``."""
    g = grading(1.0, refusal=0.1)
    results = verdicts(g)
    refused = [v for v in results if v.outcome is Outcome.REFUSAL]
    assert abs(len(refused) / N - 0.1) < 4 * math.sqrt(0.09 / N)
    assert all(render(v, g.truth, json_asked=False, schema=None).text in REFUSALS for v in refused)


def test_confidence_is_calibrated():
    """Answers given with higher confidence are right more often: each half is right about as often as
    its mean confidence says."""
    results = sorted(verdicts(grading(0.7, spread=0.25)), key=lambda v: v.confidence)
    for half in (results[: N // 2], results[N // 2 :]):
        right = sum(v.outcome is Outcome.RIGHT for v in half) / len(half)
        mean = sum(v.confidence for v in half) / len(half)
        assert abs(right - mean) < 0.04
    assert results[0].confidence >= 0.45
    assert results[-1].confidence <= 0.95


def test_json_answer_and_broken_json():
    """JSON asked: the answer is a JSON object with the answer field; at invalid_json=1 it never parses."""
    g = grading(1.0)
    good = decide(g, json_asked=True)
    assert json.loads(render(good, g.truth, json_asked=True, schema=None).text) == {"answer": "positive"}
    broken = grading(1.0, invalid_json=1.0)
    for v in verdicts(broken, json_asked=True, n=40):
        with pytest.raises(json.JSONDecodeError):
            json.loads(render(v, broken.truth, json_asked=True, schema=None).text)


def test_json_follows_schema_types():
    """With a schema the answer takes the property's type and the other required properties are filled."""
    schema = {
        "type": "object",
        "properties": {"total": {"type": "integer"}, "currency": {"type": "string"}},
        "required": ["total", "currency"],
    }
    g = grading(1.0, truth=Truth("42", field="total"))
    text = render(decide(g, json_asked=True), g.truth, json_asked=True, schema=schema).text
    assert json.loads(text) == {"total": 42, "currency": "test"}
    single = {"type": "object", "properties": {"label": {"type": "string"}}}
    text = render(decide(g, json_asked=True), g.truth, json_asked=True, schema=single).text
    assert json.loads(text) == {"label": "42"}
    text = render(decide(g, json_asked=True), g.truth, json_asked=True, schema={"type": "string"}).text
    assert json.loads(text) == "42"


def test_tool_arguments_carry_the_answer():
    """A forced tool's arguments hold the answer in its field; broken JSON leaves the field out."""
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    g = grading(1.0)
    assert tool_arguments(decide(g, json_asked=True), g.truth, schema) == {"answer": "positive"}
    broken = grading(1.0, invalid_json=1.0)
    assert tool_arguments(decide(broken, json_asked=True), broken.truth, schema) == {}


def test_prose_wraps_the_value():
    """At prose=1 the answer comes in one of the sentence templates, and value_at points at the value."""
    g = grading(1.0, prose=1.0)
    v = decide(g, json_asked=False)
    written = render(v, g.truth, json_asked=False, schema=None)
    assert written.text in [template.format("positive") for template in PROSE]
    assert written.text[written.value_at :].startswith("positive")


def test_judge_picks_the_right_candidate_at_its_accuracy():
    """A judge names the candidate that holds the truth at its ``judge`` accuracy, another one otherwise."""
    profile = QualityProfile(right={"judge": 0.8})
    candidates = [(1, "The answer is negative."), (2, "positive"), (3, "neutral")]
    picks = [
        judge(Grading(Truth("positive", choices=LABELS), "s", profile, "j", 0, f"q{index}"), candidates)
        for index in range(2000)
    ]
    share = sum(v.value == "2" for v in picks) / 2000
    assert abs(share - 0.8) < 4 * math.sqrt(0.16 / 2000)
    assert {v.value for v in picks} == {"1", "2", "3"}
    assert json.loads(judge_text(picks[0])) == {"best": int(picks[0].value)}


def test_judge_candidates_parse():
    """Judge prompts list candidates as ``<candidate n="N">...</candidate>``, possibly over several lines."""
    text = 'Q\n<candidate n="1">\nfoo\nbar\n</candidate>\n<candidate n="2">baz</candidate>'
    assert judge_candidates(text) == [(1, "foo\nbar"), (2, "baz")]


def test_logprobs_carry_confidence():
    """The token where the value starts has log(confidence), runners-up share the rest; others are sure."""
    items = logprobs(["The ", "answer ", "is ", "positive."], 14, 0.8, ["negative", "neutral"], 3)
    assert math.exp(items[3].logprob) == pytest.approx(0.8)
    assert [token for token, _ in items[3].top] == ["positive.", "negative", "neutral"]
    assert math.exp(items[3].top[1][1]) == pytest.approx(0.1)
    assert all(item.logprob > -0.001 for item in items[:3])
    assert logprobs(["a"], 0, 0.5, ["b"], 0)[0].top == ()
