"""The process's account of bytes held from bodies (``sidecar.held_bytes``): the ceiling read from cgroup
files (a temporary directory stands for ``/sys/fs/cgroup``), the account's arithmetic, its refusals, and
the start-up line of a real process that says the ceiling."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from sidecar.held_bytes import DEFAULT_CEILING, MEMORY_SHARE, HeldBytes, ceiling_for, memory_limit

from .conftest import provider_block
from .listening import port_zero, wait_ports

MiB = 1024 * 1024


def cgroup(root: Path, v2: str | None = None, v1: str | None = None) -> Path:
    """A cgroup file system under ``root`` holding v2's ``memory.max`` and/or v1's limit file."""
    if v2 is not None:
        (root / "memory.max").write_text(v2 + "\n")
    if v1 is not None:
        (root / "memory").mkdir()
        (root / "memory" / "memory.limit_in_bytes").write_text(v1 + "\n")
    return root


def test_cgroup_v2_limit_is_read(tmp_path: Path) -> None:
    """cgroup v2's ``memory.max`` gives the limit in bytes."""
    assert memory_limit(cgroup(tmp_path, v2=str(192 * MiB))) == 192 * MiB


def test_cgroup_v1_limit_is_read_when_v2_is_absent(tmp_path: Path) -> None:
    """Without v2's file, v1's ``memory/memory.limit_in_bytes`` gives the limit."""
    assert memory_limit(cgroup(tmp_path, v1=str(256 * MiB))) == 256 * MiB


def test_v2_is_read_before_v1(tmp_path: Path) -> None:
    """With both files, v2's wins (a hybrid host mounts both)."""
    assert memory_limit(cgroup(tmp_path, v2=str(128 * MiB), v1=str(512 * MiB))) == 128 * MiB


@pytest.mark.parametrize(
    "files",
    [{"v2": "max"}, {"v1": "9223372036854771712"}, {"v2": str(1 << 62)}, {}, {"v2": "garbage"}, {"v2": "0"}],
    ids=["v2 max", "v1 unlimited", "huge", "no files", "not a number", "zero"],
)
def test_no_limit_is_none(tmp_path: Path, files: dict[str, str]) -> None:
    """``max``, v1's "unlimited" (a huge number), no file, or a file that says no number: no limit."""
    assert memory_limit(cgroup(tmp_path, **files)) is None


def test_the_ceiling_is_the_share_of_the_limit(tmp_path: Path) -> None:
    """Unset, the ceiling is ``MEMORY_SHARE`` of the limit (96 MiB of the shipped 192 Mi), its source says so."""
    held = ceiling_for(None, cgroup(tmp_path, v2=str(192 * MiB)))
    assert held.ceiling == int(192 * MiB * MEMORY_SHARE) == 96 * MiB
    assert held.source == f"50% of the memory limit {192 * MiB}"


def test_the_setting_wins_over_the_limit(tmp_path: Path) -> None:
    """``SIDECAR_MAX_HELD_BYTES`` set: it is the ceiling, whatever the cgroup says."""
    held = ceiling_for(8 * MiB, cgroup(tmp_path, v2=str(192 * MiB)))
    assert (held.ceiling, held.source) == (8 * MiB, "SIDECAR_MAX_HELD_BYTES")


def test_no_limit_gives_the_default_ceiling(tmp_path: Path) -> None:
    """No limit found: the fixed default that fits the shipped 192 Mi pod."""
    held = ceiling_for(None, cgroup(tmp_path, v2="max"))
    assert (held.ceiling, held.source) == (DEFAULT_CEILING, "default (no memory limit found)")


def test_a_take_past_the_ceiling_is_refused_and_counted() -> None:
    """A take that would pass the ceiling adds nothing and counts a refusal; one that fits exactly is taken."""
    held = HeldBytes(100)
    assert held.take(60) and not held.take(41)
    assert (held.held, held.refusals) == (60, 1)
    assert held.take(40)
    assert (held.held, held.peak) == (100, 100)


def test_give_returns_bytes_and_the_peak_stays() -> None:
    """Bytes given back leave the account; its peak is the highest it held."""
    held = HeldBytes(100)
    held.take(70)
    held.give(70)
    held.take(10)
    assert (held.held, held.peak) == (10, 70)


def test_the_start_line_says_the_ceiling_and_where_it_came_from(tmp_path: Path) -> None:
    """``llm-sidecar run`` says its ceiling and its source in the ``held_bytes_ceiling`` line at start."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n"
        + provider_block("up", "http://127.0.0.1:9", "openai")
        + "models:\n  m: {provider: up, model: u}\n"
    )
    out, ports = tmp_path / "stdout.log", tmp_path / "sidecar.ports"
    env = {**os.environ, "SIDECAR_MAX_HELD_BYTES": str(8 * MiB)}
    with out.open("wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports)], env=env, stdout=stdout
        )
        try:
            wait_ports(ports, proc)
        finally:
            proc.terminate()
            proc.wait(30)
    (line,) = [orjson.loads(raw) for raw in out.read_bytes().splitlines() if b'"held_bytes_ceiling"' in raw]
    assert (line["ceiling"], line["source"]) == (8 * MiB, "SIDECAR_MAX_HELD_BYTES")
