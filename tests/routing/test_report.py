"""Routing on the access line and back: diff --replay re-routes a logged request by its task and features."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from sidecar.diff import replay
from sidecar.diff.replay import request_from_access
from sidecar.policy import load_policy_bytes
from sidecar.routing.features import RequestFeatures
from sidecar.routing.report import FEATURE_FIELDS, logged_features

OLD = """
version: 1
providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
models:
  big: {provider: openai, model: gpt-4o, price: {input_per_mtok: 2.5, output_per_mtok: 10}}
  mini: {provider: openai, model: gpt-4o-mini, price: {input_per_mtok: 0.15, output_per_mtok: 0.6}}
routing:
  classes: [{name: extraction, rules: [{keywords: [extract]}]}]
routes:
  - {name: all, target: big}
"""
NEW = OLD.replace(
    "  - {name: all, target: big}",
    "  - {name: tools, match: {features: {tools: true}}, target: big}\n"
    "  - {name: cheap, match: {task: extraction, complexity: simple}, target: mini}\n"
    "  - {name: all, target: big}",
)
LINE = {
    "event": "access",
    "path": "/v1/chat/completions",
    "requested_model": "auto",
    "route": "all",
    "served_model": "big",
    "status": 200,
    "task": "extraction",
    "complexity": "simple",
    "tier": "economy",
    "features": {"prompt_tokens": 40, "last_user_chars": 30, "turns": 1},
    "input_tokens": 40,
    "output_tokens": 10,
}


def test_replayed_request_keeps_its_logged_features() -> None:
    """The features an access line recorded are the rebuilt request's features."""
    request = request_from_access({**LINE, "features": {"tools": 2, "prompt_tokens": 900}}, app="")
    assert (request.features.tools, request.features.prompt_tokens, request.features.images) == (2, 900, 0)


def test_a_replayed_thinking_request_still_asks_for_thinking() -> None:
    """``thinking`` on the access line comes back, so ``diff --replay`` excludes models that cannot think."""
    assert request_from_access({**LINE, "features": {"thinking": True}}, app="").features.thinking is True
    assert request_from_access(LINE, app="").features.thinking is False


def test_replay_routes_by_the_logged_task_and_complexity() -> None:
    """A new policy that sends simple extraction to a cheap model moves a logged extraction request there."""
    old, new = (load_policy_bytes(text.encode(), "p.yaml") for text in (OLD, NEW))
    result = replay(old, new, [orjson.dumps(LINE)])
    (move,) = result.moves.values()
    assert (move.old.route, move.new.route, move.new.chain) == ("all", "cheap", ("mini",))
    assert result.new_cost_usd < result.old_cost_usd


def test_replay_routes_by_the_logged_features() -> None:
    """A logged request that declared tools takes a new route matching on features: {tools: true}."""
    old, new = (load_policy_bytes(text.encode(), "p.yaml") for text in (OLD, NEW))
    line = {**LINE, "features": {"tools": 1, "prompt_tokens": 60}}
    (move,) = replay(old, new, [orjson.dumps(line)]).moves.values()
    assert move.new.route == "tools"


PLAIN = RequestFeatures(
    prompt_tokens=40,
    max_output_tokens=64,
    turns=1,
    tools=0,
    tool_choice_forced=False,
    images=0,
    audio=0,
    video=0,
    files=0,
    json_mode=False,
    json_schema=False,
    stream=False,
    last_user_chars=30,
    system_text="",
    last_user_text="",
)
"""A usual request's features: prompt, output maximum, turns and last message set, nothing rare."""


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"max_output_tokens": None, "prompt_tokens": 0},
        {"turns": 0, "last_user_chars": 0},
        *({name: 2 if name in {"tools", "images", "audio", "video", "files"} else True} for name in FEATURE_FIELDS[4:]),
        {"tools": 3, "json_schema": True, "json_mode": True, "max_output_tokens": None},
        {"stream": True},
    ],
)
def test_logged_features_are_the_set_ones_in_field_order(changes: dict[str, object]) -> None:
    """The access line's features are those of FEATURE_FIELDS not zero, false or absent, in that order,
    whether the request has rare features (tools, media, JSON) or only the usual ones."""
    features = replace(PLAIN, **changes)
    expected = [(name, getattr(features, name)) for name in FEATURE_FIELDS if getattr(features, name)]
    assert list(logged_features(features).items()) == expected


def test_diff_replay_on_the_command_line_reroutes_a_line_by_the_features_it_logged(tmp_path: Path) -> None:
    """``llm-sidecar diff OLD NEW --replay -`` moves a line whose ``features`` (as ``logged_features`` writes
    them) say tools to the new route that matches on tools, and leaves the usual request's line where it was."""
    (tmp_path / "old.yaml").write_text(OLD)
    (tmp_path / "new.yaml").write_text(NEW)
    usual = {**LINE, "task": "chat", "features": logged_features(PLAIN)}
    with_tools = {**usual, "features": logged_features(replace(PLAIN, tools=2))}
    command = [sys.executable, "-m", "sidecar", "diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml")]
    log = b"".join(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE) for line in (with_tools, usual))
    result = subprocess.run([*command, "--replay", "-", "--json"], input=log, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    replayed = orjson.loads(result.stdout)["replay"]
    (move,) = replayed["moves"]
    assert (replayed["replayed"], move["requests"], move["old"]["route"], move["new"]["route"]) == (
        2,
        1,
        "all",
        "tools",
    )
