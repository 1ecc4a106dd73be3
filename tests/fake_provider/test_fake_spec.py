"""Pure pieces: the fault grammar, plan composition, config validation, the fake model's helpers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sidecar.fake_provider import FakeConfig
from sidecar.fake_provider.config import updated
from sidecar.fake_provider.conversation import (
    Prompt,
    ToolChoice,
    ToolSpec,
    answer,
    example_arguments,
    split_text,
)
from sidecar.fake_provider.errors import go_duration
from sidecar.fake_provider.faults import HINTS, FaultKind, compose, for_server, markers, parse_faults


def test_parse_list_with_server_names():
    """A header value is a comma list of ``[server:]kind[=value];options`` items."""
    faults = parse_faults("primary:status=429;hint=retry-after+reset;after=1.5, stall=0.2 ,529")
    assert [(f.target, f.kind, f.value) for f in faults] == [
        ("primary", FaultKind.STATUS, 429),
        (None, FaultKind.STALL, 0.2),
        (None, FaultKind.STATUS, 529),
    ]
    assert faults[0].hints == frozenset({"retry-after", "reset"})
    assert faults[0].after_s == 1.5


def test_spec_key_is_canonical():
    """The ``times`` counter key ignores the server name and the order of options."""
    first, second = parse_faults("a:status=503;times=2;should-retry=true, status=503;should-retry=true;times=2")
    assert first.key == second.key == "status=503;should-retry=true;times=2"
    assert first.times == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("boom", "unknown fault kind"),
        ("status", "needs a value"),
        ("status=700", "200..599"),
        ("status=100", "200..599"),
        ("reset=3", "takes no value"),
        ("cut=x", "must be an integer"),
        ("stall=1;hint=none", "takes no option"),
        ("status=429;hint=sometimes", "hint must be among"),
        ("status=429;after", "needs a value"),
        ("bad name:reset", "bad server name"),
        ("stall=-1", ">= 0"),
    ],
)
def test_parse_errors(spec, message):
    """Bad specs raise ValueError with a message naming the problem."""
    with pytest.raises(ValueError, match=message):
        parse_faults(spec)


def test_compose_first_outcome_wins_and_modifiers_combine():
    """In a plan the first outcome wins, while stall, slow-ttft and stall-mid combine with it."""
    plan = compose(parse_faults("stall=0.1,cut=2,status=500,slow-ttft=30,stall-mid=1;for=0.2,stall=9"))
    assert plan.outcome is not None
    assert plan.outcome.kind is FaultKind.CUT
    assert plan.stall_s == 0.1
    assert plan.ttft_ms == 30
    assert plan.stall_mid is not None
    assert plan.stall_mid.for_s == 0.2


def test_markers_and_server_filter():
    """Markers are found anywhere in a body; ``for_server`` keeps unnamed items and its own."""
    faults = markers('{"content": "hi [fault:a:reset] and [fault:429]"}')
    assert [f.kind for f in for_server(faults, "b")] == [FaultKind.STATUS]
    assert len(for_server(faults, "a")) == 2


def test_go_duration():
    """Rate-limit reset durations are written like OpenAI's headers."""
    assert [go_duration(s) for s in (0.02, 1, 1.5, 360, 3723)] == ["20ms", "1s", "1.5s", "6m0s", "1h2m3s"]


def test_config_validation_and_runtime_update():
    """FakeConfig rejects bad values; runtime updates set the rate to 1 when only a fault is given."""
    with pytest.raises(ValueError, match="fault_rate"):
        FakeConfig(fault_rate=1.5)
    with pytest.raises(ValueError, match="fault"):
        FakeConfig(fault="nope")
    assert updated(FakeConfig(), {"fault": "reset"}).fault_rate == 1.0
    assert updated(FakeConfig(), {"fault": "reset", "fault_rate": 0.25}).fault_rate == 0.25
    with pytest.raises(ValueError, match="not a runtime setting"):
        updated(FakeConfig(), {"seed": 3})


def test_example_arguments_from_schema():
    """Required properties get "test", 1, true, enums their first value; optional ones are left out."""
    schema = {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "n": {"type": "NUMBER"},
            "b": {"type": ["boolean", "null"]},
            "e": {"type": "string", "enum": ["x", "y"]},
            "o": {"type": "object", "properties": {"inner": {"type": "integer"}}, "required": ["inner"]},
            "optional": {"type": "string"},
        },
        "required": ["s", "n", "b", "e", "o"],
    }
    assert example_arguments(schema) == {"s": "test", "n": 1, "b": True, "e": "x", "o": {"inner": 1}}


def test_split_text_rejoins():
    """Stream chunks join back to the original text."""
    text = "  hello   wide\nworld "
    assert "".join(split_text(text)) == text


def test_tool_choice_none_wins_over_marker():
    """``tool_choice`` none keeps the marker from producing a call."""
    prompt = Prompt("fake:tool", 1, tools=(ToolSpec("f"),), tool_choice=ToolChoice("none"))
    assert answer(prompt, None).calls == ()


def test_fault_kinds_and_hints_tables_match_the_grammar():
    """docs/fake-provider.md's outcome and modifier tables name every fault kind the grammar parses and
    no other, and its ``hint=`` option lists exactly the hints the grammar accepts."""
    doc = (Path(__file__).parents[2] / "docs" / "fake-provider.md").read_text()
    faults = doc.split("## Faults", 1)[1].split("### How the SDKs see them", 1)[0]
    kinds = set(re.findall(r"^\| `([a-z-]+)[=`\[]", faults.split("Options:", 1)[0], re.M))
    assert kinds == {kind.value for kind in FaultKind}
    hint_row = next(line for line in faults.splitlines() if line.startswith("| `hint=H`"))
    assert set(re.findall(r"`([a-z-]+)`", hint_row.split("|")[3])) == HINTS


def test_the_quality_tables_and_example_are_the_profiles_the_code_has() -> None:
    """docs/fake-provider.md's quality section: the field table's defaults are a profile's, the built-in
    table's rows are the built-in profiles, and the ``--quality`` YAML example is accepted as written."""
    import dataclasses

    import yaml

    from sidecar.fake_provider.profiles import BUILTIN_PROFILES, PERFECT, parse_profiles

    doc = (Path(__file__).parents[2] / "docs" / "fake-provider.md").read_text()
    doc = doc.split("\n### The profile\n", 1)[1].split("\n### ", 1)[0]
    defaults = dict(re.findall(r"^\| `([a-z_]+)` \| ([^|]+?) \|", doc, re.M))
    expected = {f.name: getattr(PERFECT, f.name) for f in dataclasses.fields(PERFECT)}
    assert {name: defaults[name] for name in expected} == {
        **{n: f"{v:g}" for n, v in expected.items() if n != "right"},
        "right": '`{"*": 1}`',
    }
    header, *rows = re.findall(r"^\| `?(fake-[a-z]+|model)`? \|(.*)\|$", doc, re.M)
    columns = [cell.strip().strip("`") for cell in header[1].split("|")]
    for name, cells in rows:
        values = dict(zip(columns, (float(cell) for cell in cells.split("|")), strict=True))
        profile = BUILTIN_PROFILES[name]
        shown = {column: value for column, value in values.items() if column in expected}
        assert shown == {column: getattr(profile, column) for column in shown}, name
        assert {c: v for c, v in values.items() if c not in expected} == dict(profile.right), name
    assert sorted(name for name, _ in rows) == sorted(BUILTIN_PROFILES)
    example = re.search(r"```yaml\n# --quality [^\n]*\n(.*?)```", doc, re.S).group(1)  # type: ignore[union-attr]
    assert set(parse_profiles(yaml.safe_load(example))) == {"fake-mini", "member-*"}
