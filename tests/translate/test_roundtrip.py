"""Property: generated OpenAI conversations with tools survive a trip through Anthropic or Gemini and
back with their meaning intact: roles, texts, tool names, tool arguments (as parsed JSON) and which call
each tool result answers (ids may change on the Gemini trip, which has none; the linkage may not)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.dialects import Dialect, Operation
from sidecar.translate import TranslateOptions, translate_request

OPTS = TranslateOptions()

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
plain_text = text.filter(lambda s: not s.lstrip().startswith("{"))
keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
scalars = (
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | text
)
json_values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(keys, c, max_size=3), max_leaves=8
)
arguments = st.dictionaries(keys, json_values, max_size=4)
tool_names = st.sampled_from(["get_weather", "search", "lookup_user", "send-mail"])
tool_output = plain_text | st.dictionaries(
    keys.filter(lambda k: k not in ("result", "output", "error")), json_values, min_size=1, max_size=3
).map(json.dumps)


@st.composite
def conversations(draw: st.DrawFn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": draw(st.sampled_from(["system", "developer"])), "content": draw(text)})
    counter = 0
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            messages.append({"role": "user", "content": draw(text)})
        else:
            parts = draw(st.lists(text, min_size=1, max_size=3))
            messages.append({"role": "user", "content": [{"type": "text", "text": t} for t in parts]})
        for _ in range(draw(st.integers(0, 3))):
            calls = draw(st.lists(st.tuples(tool_names, arguments), max_size=3))
            said = draw(st.none() | text)
            message: dict[str, Any] = {
                "role": "assistant",
                "content": said if said is not None or calls else "ok",
            }
            ids = [f"call_{counter + i}" for i in range(len(calls))]
            counter += len(calls)
            if calls:
                message["tool_calls"] = [
                    {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                    for i, (n, a) in zip(ids, calls, strict=True)
                ]
            messages.append(message)
            for ident in ids:
                messages.append({"role": "tool", "tool_call_id": ident, "content": draw(tool_output)})
            if not calls:
                break
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
        for n in ("get_weather", "search", "lookup_user", "send-mail")
    ]
    return {"model": "gpt-4o", "messages": messages, "tools": tools}


def _content(value: Any) -> Any:
    if isinstance(value, list):
        return "".join(p["text"] for p in value)
    return value or ""


def _pieces(value: Any) -> list[str]:
    return [p["text"] for p in value] if isinstance(value, list) else [value]


def _result(value: str) -> Any:
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, dict) else value


def meaning(body: dict[str, Any]) -> list[Any]:
    """What a conversation says, independent of ids, JSON spacing and how user turns are split."""
    out: list[Any] = []
    calls: dict[str, tuple[str, Any]] = {}
    for m in body["messages"]:
        role = m["role"]
        if role in ("system", "developer"):
            out.append(("system", _content(m["content"])))
        elif role == "user":
            if out and out[-1][0] == "user":
                out[-1][1].extend(_pieces(m["content"]))  # consecutive user turns merge on the way
            else:
                out.append(("user", _pieces(m["content"])))
        elif role == "assistant":
            made = []
            for call in m.get("tool_calls") or ():
                made.append((call["function"]["name"], json.loads(call["function"]["arguments"])))
                calls[call["id"]] = made[-1]
            out.append(("assistant", _content(m["content"]), made))
        else:
            out.append(("tool", calls[m["tool_call_id"]], _result(m["content"])))
    return out


@pytest.mark.parametrize("via", [Dialect.ANTHROPIC, Dialect.GEMINI])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=conversations())
def test_conversation_survives_round_trip(via: Dialect, body: dict[str, Any]) -> None:
    """OpenAI -> Anthropic/Gemini -> OpenAI keeps roles, texts, tool names, arguments, result links."""
    there, dropped, _ = translate_request(
        body, source=Dialect.OPENAI, target=via, operation=Operation.CHAT, target_model="x", options=OPTS
    )
    back, dropped_back, _ = translate_request(
        there,
        source=via,
        target=Dialect.OPENAI,
        operation=Operation.CHAT,
        target_model="gpt-4o",
        options=OPTS,
    )
    assert dropped == []
    assert dropped_back == []
    assert meaning(back) == meaning(body)
    assert [t["function"]["name"] for t in back["tools"]] == [t["function"]["name"] for t in body["tools"]]
