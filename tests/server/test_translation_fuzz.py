"""bench/translation_fuzz.py, short and with fixed seeds: random valid traffic through every pair of dialects
holds its invariants (docs/benchmarks.md has the long runs; the defects it found have their own tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run(part: str, seeds: int) -> str:
    command = [sys.executable, "translation_fuzz.py", "--part", part, "--seeds", str(seeds), "--stats"]
    result = subprocess.run(command, cwd=BENCH, capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "# violations: 0" in result.stdout
    return result.stdout


@pytest.mark.timeout(170)  # its subprocess's own limit (150 s; about 8 s on a machine at load 15) decides
def test_valid_requests_of_every_dialect_reach_every_upstream_valid_or_get_a_documented_400() -> None:
    """300 seeded valid requests (OpenAI, Anthropic, Gemini apps; whole and streamed; to OpenAI, Azure,
    Anthropic and Gemini fake providers, ``unsupported_params`` error and drop): each a 200 of the app's
    dialect or a 4xx in its error shape the sidecar documents, never a 5xx; what each provider received is
    a body its API takes; no error-level log line, no traceback."""
    out = run("requests", 300)
    assert "openai->anthropic: 200" in out and "gemini->azure stream: 200" in out  # pairs were answered


@pytest.mark.timeout(170)
def test_valid_answers_of_every_dialect_are_parsed_whole_by_every_sdk() -> None:
    """40 seeded valid answers (text, tool calls with nested arguments, thinking, server tool blocks,
    citations, refusals, several answers, cache usage, every finish reason; whole and streamed) of each
    upstream dialect reach openai, anthropic and google-genai parsed: text and arguments intact, finish
    reason and usage mapped as docs/translation.md says."""
    run("answers", 40)
