"""tests/time_limits.py: a test past its time limit fails with its name, and the run goes on and ends.

One pytest run in a subprocess (one pytest-xdist worker, ``--dist loadfile`` as ``make test``), of tests
that never end by themselves, each past a 2 s limit; its outcome is what the tests below read.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .waiting import until

ROOT = Path(__file__).resolve().parent.parent

HANGING_TESTS = """
import asyncio
import pathlib
import subprocess
import time

OUT = pathlib.Path(__file__).parent


async def test_waits_on_uvloop_forever():
    try:
        await asyncio.sleep(1e9)
    finally:
        (OUT / "finally-ran").write_text("yes")


def test_waits_on_a_child_forever():
    subprocess.run(["sleep", "1000"], check=False)


def test_swallows_every_timeout():
    child = subprocess.Popen(["sleep", "1000"])
    (OUT / "child-pid").write_text(str(child.pid))
    while True:
        try:
            time.sleep(1e9)
        except BaseException:
            pass


def test_after_them():
    pass
"""

UVLOOP_ONLY = """
import uvloop


def pytest_asyncio_loop_factories(config, item):
    return {"uvloop": uvloop.new_event_loop}
"""


@dataclass
class Run:
    output: str
    returncode: int
    directory: Path

    def outcome(self, name: str) -> list[tuple[str, str]]:
        """The summary lines (``-rA``) of the test ``name``."""
        return re.findall(rf"^(\w+) test_hanging\.py::{name}\b(.*)$", self.output, re.MULTILINE)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    directory = tmp_path_factory.mktemp("hanging")
    (directory / "test_hanging.py").write_text(HANGING_TESTS)
    (directory / "conftest.py").write_text(UVLOOP_ONLY)
    options = ["-o", "timeout=2", "-o", "timeout_method=signal", "-o", "asyncio_mode=auto"]
    options += ["-o", "asyncio_default_fixture_loop_scope=function"]
    command = [sys.executable, "-m", "pytest", "-p", "tests.time_limits", "-p", "no:cacheprovider", *options]
    command += ["-n", "1", "--dist", "loadfile", "-rA", "test_hanging.py"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"}  # summary lines not cut
    done = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True, timeout=50)
    return Run(done.stdout + done.stderr, done.returncode, directory)


def test_an_async_test_waiting_in_its_event_loop_is_cancelled_before_its_limit_and_its_finally_runs(run: Run) -> None:
    """uvloop waiting in epoll_wait: the test's task is cancelled, it fails naming the limit."""
    assert run.outcome("test_waits_on_uvloop_forever") == [
        ("FAILED", " - Failed: Timeout: the test's task cancelled 1.5 s after its start (its limit: 2 s)")
    ]
    assert (run.directory / "finally-ran").read_text() == "yes"


def test_a_sync_test_waiting_on_a_child_fails_at_its_limit(run: Run) -> None:
    """SIGALRM ends the wait where it stands (subprocess.run kills its child as the error passes)."""
    failure = " - Failed: Timeout (>2.0s) from pytest-timeout."
    assert run.outcome("test_waits_on_a_child_forever") == [("FAILED", failure)]


def process_ended(pid: int) -> bool:
    """Whether process ``pid`` is gone or a zombie (dead, not yet reaped by its new parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def test_a_test_that_ignores_its_limit_ends_its_worker_once_and_the_run_goes_on(run: Run) -> None:
    """At twice the limit the worker names the test, kills its child and exits; the replacement fails the
    test at once (not crashing again) and runs the rest of its file; the run ends failed."""
    assert "test_hanging.py::test_swallows_every_timeout still running 4 s after its start" in run.output
    assert run.output.count("node down: Not properly terminated") == 1
    assert [outcome for outcome, _ in run.outcome("test_swallows_every_timeout")] == ["ERROR", "FAILED"]
    assert run.outcome("test_after_them") == [("PASSED", "")]
    assert run.returncode == 1
    child = int((run.directory / "child-pid").read_text())
    await until(lambda: process_ended(child))
