"""An answer's key and judge text: tool calls vote by their names and arguments."""

from __future__ import annotations

from sidecar.answers import AnswerView, ToolCallView
from sidecar.ensemble.answer_key import answer_key, answer_text
from sidecar.ensemble.normalize import compile_normalizer
from sidecar.ensemble.spec import JsonPathNormalizerSpec, TextNormalizerSpec

TEXT = compile_normalizer(TextNormalizerSpec())


def calls(*names: str, text: str = "", user: str = "42") -> AnswerView:
    return AnswerView(text, tuple(ToolCallView(name, {"user": user}) for name in names))


def test_a_tool_calls_name_is_part_of_its_key():
    """The same arguments to two different tools are two different keys."""
    assert answer_key(TEXT, calls("delete_account")) != answer_key(TEXT, calls("lookup_account"))
    assert answer_key(TEXT, calls("lookup_account")) == answer_key(TEXT, calls("lookup_account"))


def test_every_tool_call_is_part_of_the_key():
    """One call and two calls (the second to another tool) do not agree."""
    assert answer_key(TEXT, calls("lookup_account")) != answer_key(TEXT, calls("lookup_account", "delete_account"))


def test_text_beside_tool_calls_does_not_vote():
    """Two answers making the same call agree whatever they say beside it; a text never agrees with a call."""
    assert answer_key(TEXT, calls("lookup", text="Let me check.")) == answer_key(TEXT, calls("lookup"))
    assert answer_key(TEXT, calls("lookup", text="Checking")) != answer_key(TEXT, "Checking")


def test_a_calls_arguments_go_through_the_normalizer():
    """A json_path normalizer reads each call's arguments; a call without the path has no key."""
    user = compile_normalizer(JsonPathNormalizerSpec(path="user"))
    assert answer_key(user, calls("lookup", user="42 ")) == answer_key(user, calls("lookup", user="42"))
    assert answer_key(user, AnswerView("", (ToolCallView("lookup", {}),))) is None


def test_the_judge_reads_the_calls():
    """The judge's text of an answer has its text, then each call with its name and arguments."""
    assert answer_text(calls("lookup", text="Checking.")) == 'Checking.\n[call lookup({"user":"42"})]'
    assert answer_text("plain") == "plain"
