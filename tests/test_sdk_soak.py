"""bench/sdk_soak.py, short and with a fixed seed: a randomized fault soak through the official SDKs holds
its invariants (docs/benchmarks.md has the long runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.timeout(200)  # its subprocess's own limit (180 s) decides
def test_a_short_fixed_seed_soak_holds_every_invariant() -> None:
    """6 s of openai, anthropic and google-genai calls (streamed, tools, translated, clients leaving, malformed
    bodies, a route whose access lines are sampled, a pool of 4 connections a host, a Gemini upstream whose
    streams carry usage on some fragments only, an ensemble, two pods sharing the cache's Redis) while the
    fakes fault at random, the policy is reloaded (valid, broken, removing a target in use, resampled) and
    redis-server is killed and restarted: every answer parsed or an SDK error in its dialect in time, one
    access line agreeing with it (its usage too; or none for a sampled-out plain success), the calls of a
    client that left cancelled, a hit's usage a live answer's; then no reservation held, fds and tasks back,
    breakers agreeing with the last calls, the shared prompts hits at the other pod, the lines sampled out
    and the requests by route in the metrics equal to the lines', no error log line. (The budgets' counting
    against the lines is checked after a round without the Redis restart: the long runs'.)"""
    command = [sys.executable, "sdk_soak.py", "--seed", "27", "--rounds", "1", "--seconds", "6", "--concurrency", "4"]
    command += ["--idle-s", "0.5"]  # the idle before each sample (2 s by default): the run stays its wave 27 size
    result = subprocess.run(command, cwd=BENCH, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "# violations: 0" in result.stdout
