"""``llm-sidecar run`` expected to refuse to start (a setting or variable that cannot work: exit 2, one
line): ``refused_start`` runs it and gives its result, or fails the test with what it wrote when it
started instead."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def refused_start(env: Mapping[str, str], policy: Path, what: str) -> subprocess.CompletedProcess[str]:
    """``llm-sidecar run --policy policy --port 0`` with ``env``: its result once it exits. Still running
    after 30 s, it started: an AssertionError naming ``what`` it was started with and what it wrote."""
    args = [sys.executable, "-m", "sidecar", "run", "--policy", str(policy), "--port", "0"]
    try:
        # 30 s: a refusal comes once the process has imported the sidecar, which took over 10 s at a load of 20
        return subprocess.run(args, capture_output=True, text=True, timeout=30, env=dict(env))
    except subprocess.TimeoutExpired as served:  # it started: what it wrote meanwhile is the point
        output = (served.stdout or b"").decode() + (served.stderr or b"").decode()
        raise AssertionError(f"started with {what}; it wrote:\n{output}") from None
