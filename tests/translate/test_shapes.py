"""``translate.shapes``: the first documented field of the wrong JSON type, in words."""

from __future__ import annotations

from sidecar.dialects.anthropic.shape import CHAT_REQUEST as ANTHROPIC
from sidecar.dialects.gemini.shape import CHAT_REQUEST as GEMINI
from sidecar.dialects.openai.shape import CHAT_REQUEST as OPENAI
from sidecar.translate.shapes import ARRAY, INTEGER, NULL, NUMBER, OBJECT, STRING, mismatch

SHAPE = OBJECT(items=ARRAY(OBJECT(text=STRING, n=INTEGER)), limit=NUMBER | NULL, name=STRING | ARRAY(STRING))


def test_a_body_of_documented_types_has_no_mismatch() -> None:
    """Every field of its type (unknown fields, null where allowed, an integral float as an integer): None."""
    body = {"items": [{"text": "a", "n": 2.0, "other": {}}], "limit": None, "name": ["x"], "extra": 1}
    assert mismatch(body, SHAPE) is None


def test_the_path_names_the_index_and_the_field() -> None:
    """A nested field is named as the caller wrote it, with its array index."""
    assert mismatch({"items": [{"text": "a"}, {"text": 7}]}, SHAPE) == "items[1].text: must be a string, not a number"


def test_a_union_is_said_in_full_and_a_fraction_is_not_an_integer() -> None:
    """Several allowed types are listed; 1.5 is a number, not an integer."""
    assert mismatch({"name": {}}, SHAPE) == "name: must be a string or an array, not an object"
    assert mismatch({"items": [{"n": 1.5}]}, SHAPE) == "items[0].n: must be an integer, not a number"


def test_null_is_refused_where_the_api_takes_none() -> None:
    """null is a value of its own: refused where the field's types do not include it."""
    assert mismatch({"items": None}, SHAPE) == "items: must be an array, not null"


def test_each_dialects_shape_names_the_field_its_callers_write() -> None:
    """The three chat shapes in their own field names: OpenAI content, Anthropic system, Gemini parts."""
    content = {"messages": [{"role": "user", "content": 42}]}
    assert mismatch(content, OPENAI) == "messages[0].content: must be a string or an array or null, not a number"
    assert mismatch({"system": True}, ANTHROPIC) == "system: must be a string or an array, not a boolean"
    parts = {"contents": [{"role": "user", "parts": "hi"}]}
    assert mismatch(parts, GEMINI) == "contents[0].parts: must be an array, not a string"
