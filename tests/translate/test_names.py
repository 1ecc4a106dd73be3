"""``translate.names``: the mapping of tool names a target refuses, and its way back."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from sidecar.dialects.anthropic.translation import ANTHROPIC_TOOL_NAMES
from sidecar.dialects.gemini.translation import GEMINI_TOOL_NAMES
from sidecar.dialects.openai.translation import OPENAI_TOOL_NAMES
from sidecar.translate.common import ChatRequest
from sidecar.translate.names import plan, rename_request
from sidecar.translate.options import TranslationError


def request(*names: str) -> ChatRequest:
    tools: list[Any] = [{"name": n, "description": None, "parameters": {}} for n in names]
    return {"tools": tools, "messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}]}


def suffix(name: str) -> str:
    return "_" + hashlib.sha256(name.encode()).hexdigest()[:8]


def test_names_the_target_takes_need_no_mapping() -> None:
    """A request whose every name OpenAI takes gets no mapping (None: nothing to rename or undo)."""
    assert plan(request("get_weather", "a-b"), OPENAI_TOOL_NAMES) is None


def test_refused_characters_become_underscores() -> None:
    """``github.create_issue`` and ``fs:read`` become ``github_create_issue`` and ``fs_read`` for OpenAI,
    and map back."""
    names = plan(request("github.create_issue", "fs:read"), OPENAI_TOOL_NAMES)
    assert names is not None
    assert names.to_target == {"github.create_issue": "github_create_issue", "fs:read": "fs_read"}
    assert names.caller_name("fs_read") == "fs:read" and names.caller_name("other") == "other"


def test_a_clash_with_a_name_the_target_takes_gets_a_hash_suffix() -> None:
    """``a.b`` next to ``a_b`` (kept) is sent as ``a_b`` plus the hash suffix, whatever their order."""
    for order in (("a.b", "a_b"), ("a_b", "a.b")):
        names = plan(request(*order), OPENAI_TOOL_NAMES)
        assert names is not None and names.to_target == {"a.b": "a_b" + suffix("a.b")}


def test_two_refused_names_that_sanitize_alike_stay_apart() -> None:
    """``a.b`` and ``a:b`` both read ``a_b``: the second gets the hash suffix."""
    names = plan(request("a.b", "a:b"), ANTHROPIC_TOOL_NAMES)
    assert names is not None and names.to_target == {"a.b": "a_b", "a:b": "a_b" + suffix("a:b")}


def test_a_name_over_the_limit_is_cut_with_a_hash_suffix() -> None:
    """A 100-character name reaches OpenAI as its first 55 characters and the suffix (64 in all)."""
    long = "t" * 100
    names = plan(request(long), OPENAI_TOOL_NAMES)
    assert names is not None and names.to_target[long] == "t" * 55 + suffix(long)
    assert plan(request(long), ANTHROPIC_TOOL_NAMES) is None


@pytest.mark.parametrize(("name", "sent"), [("1password", "_1password"), ("-x", "_-x"), ("a/b", "a_b")])
def test_gemini_names_start_with_a_letter_or_underscore(name: str, sent: str) -> None:
    """Towards Gemini, a name starting with a digit or ``-`` gets ``_`` first; ``.`` and ``:`` stay."""
    names = plan(request(name, "ok.name:v1"), GEMINI_TOOL_NAMES)
    assert names is not None and names.to_target == {name: sent}


def test_a_name_no_mapping_makes_unique_is_untranslatable() -> None:
    """When ``a_b`` and ``a_b`` plus ``a.b``'s suffix are both taken, ``a.b`` is refused, named."""
    with pytest.raises(TranslationError, match=re.escape("'a.b'")):
        plan(request("a.b", "a_b", "a_b" + suffix("a.b")), OPENAI_TOOL_NAMES)


def test_every_place_a_name_appears_is_renamed() -> None:
    """Tools, tool_choice and the history's call and result carry the mapped name; text is untouched."""
    req = request("fs:read")
    req["tool_choice"] = {"mode": "tool", "names": ["fs:read"]}
    call: Any = {"type": "tool_call", "id": "c1", "name": "fs:read", "arguments": {}}
    result: Any = {"type": "tool_result", "call_id": "c1", "name": "fs:read", "output": "x", "is_error": False}
    req["messages"] += [{"role": "assistant", "parts": [call]}, {"role": "user", "parts": [result]}]
    names = plan(req, OPENAI_TOOL_NAMES)
    assert names is not None
    rename_request(req, names)
    parts = [p for m in req["messages"] for p in m["parts"]]
    assert [t["name"] for t in req["tools"]] == req["tool_choice"]["names"] == ["fs_read"]
    assert [p.get("name") for p in parts] == [None, "fs_read", "fs_read"]
    assert call["name"] == "fs:read"  # the parsed parts are copied, not changed
