"""diff --replay on an access log the sidecar wrote: a real `llm-sidecar run` in front of a fake
provider, called through the official openai and anthropic SDKs, then `llm-sidecar diff --replay`
on its stdout, as an SRE runs it on `kubectl logs`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from ..live_stack import Processes
from ..sdk_clients import sdk_client

OLD = """\
version: 1
providers:
  fake: {dialect: fake, base_url: "FAKE"}
models:
  mini: {provider: fake, model: mini-1, price: {input_per_mtok: 0.15, output_per_mtok: 0.6}}
  large: {provider: fake, model: large-1, max_output_tokens: 512, price: {input_per_mtok: 2.5, output_per_mtok: 10.0}}
routes:
  - name: summaries
    match: {model: "summary-*"}
    target: [large, mini]
  - name: legacy
    match: {model: "legacy-*"}
    deny: {message: retired, status: 403}
default:
  name: default
  target: mini
"""
# Summaries move to the cheap model first; the rest is unchanged.
NEW = OLD.replace("target: [large, mini]", "target: [mini, large]")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(old policy, new policy, access log) after 3 summaries, 2 other chats, 1 Anthropic summary and
    1 denied request went through a real sidecar."""
    work = tmp_path_factory.mktemp("recorded")
    processes = Processes(work)
    try:
        fake = processes.fake_provider("fake")
        old, new = work / "old.yaml", work / "new.yaml"
        old.write_text(OLD.replace("FAKE", fake))
        new.write_text(NEW.replace("FAKE", fake))
        url, log = processes.sidecar(old)
        chat = sdk_client(openai.OpenAI, base_url=f"{url}/v1", api_key="app-key")
        messages: Any = [{"role": "user", "content": "please summarize these few words"}]
        for model in ("summary-a", "summary-b", "summary-c", "gpt-anything", "other"):
            chat.chat.completions.create(model=model, messages=messages)
        with pytest.raises(openai.PermissionDeniedError):
            chat.chat.completions.create(model="legacy-1", messages=messages)
        claude = sdk_client(anthropic.Anthropic, base_url=url, api_key="app-key")
        claude.messages.create(model="summary-d", max_tokens=100, messages=messages)
        chat.close()
        claude.close()
    finally:
        processes.close()  # SIGTERM: the sidecar flushes its buffered access lines
    return old, new, log


def diff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sidecar", "diff", *args], capture_output=True, text=True, timeout=30)


def test_replay_of_a_recorded_log_counts_the_moved_requests_and_their_cost(recorded: tuple[Path, Path, Path]) -> None:
    """The 4 summaries (one of them Anthropic) move from [large, mini] to [mini, large]; the old policy
    picks the logged route for all 7 requests; the cost estimate moves the 4 summaries from large's
    prices to mini's, for the tokens the log recorded."""
    old, new, log = recorded
    result = diff(str(old), str(new), "--replay", str(log), "--json")
    assert result.returncode == 0, result.stderr
    replay = json.loads(result.stdout)["replay"]
    access = [json.loads(line) for line in log.read_text().splitlines() if '"event":"access"' in line]
    assert len(access) == 7
    assert (replay["replayed"], replay["old_agrees_with_log"], replay["routed_differently"]) == (7, 7, 4)
    (move,) = replay["moves"]
    assert (move["old"]["chain"], move["new"]["chain"], move["requests"]) == (["large", "mini"], ["mini", "large"], 4)
    summaries = [line for line in access if line["route"] == "summaries"]
    saving = sum(
        line["input_tokens"] * (0.15 - 2.5) / 1e6 + line["output_tokens"] * (0.6 - 10.0) / 1e6 for line in summaries
    )
    assert move["cost_delta_usd"] == pytest.approx(saving, abs=1e-6)
    assert replay["cost"]["logged_usd"] == pytest.approx(replay["cost"]["old_usd"], abs=1e-6)


def test_replay_text_names_the_move(recorded: tuple[Path, Path, Path]) -> None:
    """The text output says how many requests move and from which chain to which."""
    old, new, log = recorded
    result = diff(str(old), str(new), "--replay", str(log))
    assert result.returncode == 0, result.stderr
    assert "  routed differently by new: 4 of 7 (57.1%)" in result.stdout
    assert "summaries: [large, mini]  =>  summaries: [mini, large]" in result.stdout
