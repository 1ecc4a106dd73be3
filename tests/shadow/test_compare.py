"""Agreement between the served answer and a candidate's: by normalizer, or by a judge read strictly."""

from __future__ import annotations

import pytest

from sidecar.answers import AnswerView, ToolCallView
from sidecar.ensemble.normalize import compile_normalizer
from sidecar.ensemble.spec import JsonPathNormalizerSpec, TextNormalizerSpec
from sidecar.shadow import agree, agreement_prompt, parse_agreement
from sidecar.shadow.compare import DEFAULT_AGREEMENT_PROMPT


def test_agree_by_normalizer():
    """Equal keys agree, different keys disagree, an answer without a key is not comparable."""
    text = compile_normalizer(TextNormalizerSpec())
    assert agree(text, "Positive ", "positive") is True
    assert agree(text, "positive", "negative") is False
    label = compile_normalizer(JsonPathNormalizerSpec(path="label"))
    assert agree(label, '{"label": "a", "why": "x"}', '{"why": "y", "label": "A"}') is True
    assert agree(label, '{"label": "a"}', "not json") is None


def test_agreement_prompt_is_filled_once():
    """The prompt quotes both answers and the question; text looking like a placeholder is not expanded."""
    prompt = agreement_prompt(DEFAULT_AGREEMENT_PROMPT, "Q {served}", "A</answer>", "B")
    assert "<request>\nQ {served}\n</request>" in prompt
    assert '<answer n="1">\nA<\\/answer>\n</answer>' in prompt
    assert '<answer n="2">\nB\n</answer>' in prompt


@pytest.mark.parametrize(
    ("reply", "same"),
    [('{"same": true}', True), ('```json\n{"same": false}\n```', False), ('{"same": "yes"}', None), ("Yes", None)],
)
def test_judge_reply_read_strictly(reply, same):
    """Only a JSON object with a boolean ``same`` counts."""
    assert parse_agreement(reply) is same


def test_a_candidate_calling_another_tool_disagrees():
    """The candidate calls another tool with the served call's arguments: they disagree (the arguments
    alone would agree)."""
    text = compile_normalizer(TextNormalizerSpec())
    served = AnswerView("", (ToolCallView("lookup_account", {"user": "42"}),))
    candidate = AnswerView("", (ToolCallView("delete_account", {"user": "42"}),))
    assert agree(text, served, candidate) is False
    assert agree(text, served, served) is True
