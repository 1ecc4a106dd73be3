"""``translate.shapes``: the first documented field of the wrong JSON type, in words; a translated body's
scalar settings (``settings_of``) checked through the SDKs against the sidecar and fake providers."""

from __future__ import annotations

import anthropic
import openai
import pytest

from sidecar.dialects.anthropic.shape import CHAT_REQUEST as ANTHROPIC
from sidecar.dialects.gemini.shape import CHAT_REQUEST as GEMINI
from sidecar.dialects.openai.shape import CHAT_REQUEST as OPENAI
from sidecar.translate.shapes import (
    ARRAY,
    INTEGER,
    NULL,
    NUMBER,
    OBJECT,
    STRING,
    breaks,
    mismatch,
    setting_rules,
    settings_of,
)

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from ..server.three_dialects import start

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


def test_settings_are_the_scalar_fields_outside_arrays_null_allowed() -> None:
    """``settings_of`` keeps the scalar fields (inside objects too, null allowed) and leaves out arrays
    and what is inside them: a messages list is never walked."""
    shape = OBJECT(items=ARRAY(OBJECT(n=INTEGER)), limit=NUMBER, config=OBJECT(top=INTEGER, stop=ARRAY(STRING)))
    settings = settings_of(shape)
    assert sorted(settings.fields) == ["config", "limit"]
    assert sorted(settings.fields["config"].fields) == ["top"]
    assert mismatch({"limit": None, "config": {"top": None}, "items": [{"n": "x"}]}, settings) is None
    assert mismatch({"config": {"top": "3"}}, settings) == "config.top: must be an integer or null, not a string"


async def test_an_anthropic_setting_of_the_wrong_type_is_named_as_the_caller_wrote_it(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An Anthropic app's ``max_tokens: "5"`` served by OpenAI or Gemini is a 400 naming ``max_tokens``
    (the translator copies it unread: the upstream's 400 named its own ``max_completion_tokens`` or
    ``maxOutputTokens``), nothing sent upstream."""
    running, urls = await start(fake, sidecar)
    async with anthropic_client(running) as client:
        for target in ("to-openai", "to-gemini"):
            with pytest.raises(anthropic.BadRequestError, match=r"max_tokens: must be an integer or null, not a str"):
                await client.messages.create(
                    model=target,
                    max_tokens="5",  # type: ignore[arg-type]
                    messages=[{"role": "user", "content": "hi"}],
                    stream=True,  # the SDK reckons a whole answer's timeout from max_tokens
                )
    assert await running.fake_requests(urls["openai"]) == await running.fake_requests(urls["gemini"]) == []


async def test_an_openai_setting_of_the_wrong_type_is_named_as_the_caller_wrote_it(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An OpenAI app's ``max_completion_tokens: "5"`` served by Anthropic or Gemini is a 400 naming
    ``max_completion_tokens``, in openai-python's ``BadRequestError`` (the upstream's named its own
    ``max_tokens`` or ``maxOutputTokens``), nothing sent upstream."""
    running, urls = await start(fake, sidecar)
    async with openai_client(running) as client:
        for target in ("to-anthropic", "to-gemini"):
            with pytest.raises(
                openai.BadRequestError, match=r"max_completion_tokens: must be an integer or null, not a"
            ):
                await client.chat.completions.create(
                    model=target,
                    max_completion_tokens="5",  # type: ignore[arg-type]
                    messages=[{"role": "user", "content": "hi"}],
                )
    assert await running.fake_requests(urls["anthropic"]) == await running.fake_requests(urls["gemini"]) == []


def test_breaks_agrees_with_mismatch_on_settings() -> None:
    """``breaks`` (the check every translated body pays) finds a wrong type exactly where ``mismatch``
    does: an integral float is an integer, a boolean is not, null passes, arrays are not looked into."""
    settings = settings_of(OBJECT(n=INTEGER, t=NUMBER, config=OBJECT(flag=STRING), items=ARRAY(OBJECT(n=INTEGER))))
    rules = setting_rules(settings)
    for body in (
        {"n": 2.0, "t": 1, "config": {"flag": None}, "items": [{"n": "x"}]},
        {"n": True},
        {"n": 1.5},
        {"t": "1"},
        {"config": {"flag": 3}},
        {"config": "x"},
        {"n": None, "config": None},
    ):
        assert breaks(body, rules) is (mismatch(body, settings) is not None), body
