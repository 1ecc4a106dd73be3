"""tests/time_limits.py: a test past its time limit fails with its name, and the run goes on and ends.

One pytest run in a subprocess (one pytest-xdist worker, ``--dist loadfile`` as ``make test``), of tests
that never end by themselves, each past a 2 s limit; its outcome is what the tests below read. Two
pytest processes start for it: seconds of CPU, but minutes of wall time on a machine loaded to 20.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .waiting import until

ROOT = Path(__file__).resolve().parent.parent
START_S = 240  # for a pytest run to start, a worker's too, and end (the module's limit: 300 s)

pytestmark = pytest.mark.timeout(300)

HANGING_TESTS = """
import asyncio
import pathlib
import subprocess
import time

OUT = pathlib.Path(__file__).parent


async def test_waits_on_uvloop_forever():
    (OUT / "started").write_text("yes")
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
    command = pytest_command("2", "-rA", "test_hanging.py")
    done = subprocess.run(command, cwd=directory, env=ENV, capture_output=True, text=True, timeout=START_S)
    return Run(done.stdout + done.stderr, done.returncode, directory)


ENV = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"}  # the summary's lines not cut short


def pytest_command(limit: str, *arguments: str) -> list[str]:
    """pytest with tests/time_limits.py and the tests' limit ``limit`` (0: none), in one xdist worker."""
    options = ["-o", f"timeout={limit}", "-o", "timeout_method=signal", "-o", "asyncio_mode=auto"]
    options += ["-o", "asyncio_default_fixture_loop_scope=function", "-n", "1", "--dist", "loadfile"]
    return [sys.executable, "-m", "pytest", "-p", "tests.time_limits", "-p", "no:cacheprovider", *options, *arguments]


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


CONTROLLER_TOLD = """
import pathlib

import pytest

MAIN_PROCESS = []  # not the environment's PYTEST_XDIST_WORKER: an outer run's worker passes its own on


def pytest_configure(config):
    MAIN_PROCESS.append(not hasattr(config, "workerinput"))


@pytest.hookimpl(trylast=True)  # after tests/time_limits.py's RunningTests has listed the test
def pytest_runtest_logstart(nodeid, location):
    if MAIN_PROCESS[0]:  # told by its worker that the test started
        (pathlib.Path(__file__).parent / "controller-told").write_text(nodeid)
"""


async def test_a_sigterm_names_the_tests_running_and_writes_every_process_stack(tmp_path: Path) -> None:
    """What .ci/run's outer timeout sends (a run with no per-test limit here): the run's main process writes
    the names of the tests running, each process every thread's stack, and all of them end. The SIGTERM
    comes once the test runs in the worker and the main process has heard so (on a loaded machine the
    worker's word can reach it well after the test started)."""
    (tmp_path / "test_hanging.py").write_text(HANGING_TESTS)
    (tmp_path / "conftest.py").write_text(UVLOOP_ONLY + CONTROLLER_TOLD)
    command = pytest_command("0", "test_hanging.py::test_waits_on_uvloop_forever")
    process = await asyncio.create_subprocess_exec(
        *command, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        await until(lambda: (tmp_path / "started").exists(), timeout_s=START_S)
        await until(lambda: (tmp_path / "controller-told").exists(), timeout_s=START_S)
        os.killpg(process.pid, signal.SIGTERM)  # as timeout(1) does: to the whole process group
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    text = output.decode()
    assert "SIGTERM; the tests running:\n  test_hanging.py::test_waits_on_uvloop_forever\n" in text
    assert text.count("Current thread") == 2  # the worker's stack and the main process's
    assert process.returncode == -signal.SIGTERM
