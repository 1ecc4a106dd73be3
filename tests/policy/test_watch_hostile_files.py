"""Hot reload in a real ``llm-sidecar run`` process when the policy file turns hostile: bytes that are
not UTF-8, a FIFO or a directory where the file was. Each is a rejected reload (``/status`` says why,
the last good policy serves), the pod keeps answering, and the next good file is read."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_stack import Processes, http

POLICY = """
version: 1
providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
models:
  small: {provider: openai, model: gpt-4o-mini}
  big: {provider: openai, model: gpt-4o}
"""
V1 = POLICY + "default: {target: small}\n"
V2 = POLICY + "default: {target: big}\n"


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A running sidecar polling its policy every 0.1 s; the policy's path and the sidecar's URL."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    processes = Processes(tmp_path)
    try:
        url, _ = processes.sidecar(path, env={"SIDECAR_RELOAD_INTERVAL_S": "0.1"})
        yield path, url
    finally:
        processes.close()


def replace_with(path: Path, make: Callable[[Path], object]) -> None:
    """Put what ``make`` creates where the policy is, in one rename (as ``mv`` and the kubelet do)."""
    new = path.with_name(".policy.new")
    make(new)
    os.replace(new, path)


def until(url: str, holds: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
    """``/status``'s policy block once ``holds`` it; each /status must answer within 2 s."""
    deadline = time.monotonic() + timeout
    while True:
        policy: dict[str, Any] = http("GET", f"{url}/status")["policy"]
        if holds(policy):
            return policy
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {policy}")
        time.sleep(0.05)


def rejected_then_recovers(path: Path, url: str, reason: str) -> None:
    """The change was rejected naming ``reason``, the pod answers, and a good file after it loads."""
    serving = http("GET", f"{url}/status")["policy"]["version"]
    policy = until(url, lambda p: p["last_reload_error"] is not None)
    assert reason in " ".join(policy["last_reload_error"]["errors"])
    assert policy["version"] == serving and policy["reloads_failed"] >= 1
    replace_with(path, lambda new: new.write_text(V2))
    until(url, lambda p: p["version"] != serving and p["last_reload_error"] is None)


def test_a_policy_that_is_not_utf8_is_rejected_and_reloads_go_on(sidecar: tuple[Path, str]) -> None:
    """A policy saved in Latin-1 (a comment with an accent) is a rejected reload naming the byte's
    line, not the end of hot reload."""
    path, url = sidecar
    replace_with(path, lambda new: new.write_bytes(V1.encode() + "# caf\xe9\n".encode("latin-1")))
    rejected_then_recovers(path, url, "not UTF-8")


def test_a_fifo_in_place_of_the_policy_is_rejected_and_the_pod_answers(sidecar: tuple[Path, str]) -> None:
    """A named pipe renamed over the policy is refused at once: reading it would wait for a writer
    and stop the whole process."""
    path, url = sidecar
    replace_with(path, os.mkfifo)
    rejected_then_recovers(path, url, "not a regular file")


def test_a_directory_in_place_of_the_policy_is_rejected_and_reloads_go_on(sidecar: tuple[Path, str]) -> None:
    """A directory made where the policy was is a rejected reload; a file written back is read."""
    path, url = sidecar
    path.unlink()
    path.mkdir()
    serving = http("GET", f"{url}/status")["policy"]["version"]
    until(url, lambda p: "directory" in str(p["last_reload_error"]).lower())
    path.rmdir()
    path.write_text(V2)
    until(url, lambda p: p["version"] != serving and p["last_reload_error"] is None)
