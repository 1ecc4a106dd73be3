"""A test past its time limit fails with its name and stack, and its process lives on to run the next test.

A test's limit is pytest-timeout's (``timeout`` in pyproject.toml, or the test's ``@pytest.mark.timeout``),
counted from the start of its setup. Three layers end a test that runs past it, the gentlest first
(docs/development.md, "A test's time limit"):

1. An async test's coroutine runs under ``asyncio.timeout``, ending a few seconds before the limit: its
   task is cancelled where it waits, its ``finally`` blocks and its fixtures' teardowns close what it
   started, and it fails naming the line it waited on. pytest-timeout's SIGALRM cannot do that for a test
   waiting in its event loop: on uvloop the signal's handler never runs while the loop sits in
   ``epoll_wait``; on asyncio's loop it raises out of the selector, leaving the test's task pending.
2. pytest-timeout's ``signal`` method at the limit: SIGALRM raises in the main thread, where a sync test
   or a blocking call in an async test runs (a ``time.sleep``, a ``subprocess.run`` wait, which kills its
   child as the error passes).
3. A watchdog thread at twice the limit, for what neither ended (a fixture waiting on uvloop, a call that
   retries through signals): it writes the test's name and every thread's stack to the real stderr (the
   log, not the test's captured output), kills the process's child processes, and ends the process.
   Under pytest-xdist the worker is replaced and the test reported as the one it crashed on; the test is
   written to a file the run's workers share, so that the replacement, handed the rest of the test's file
   again (``--dist loadfile`` hands back the crashed test too), fails it at once rather than crashing again
   until xdist's worker restarts run out (at twice the limit each: 24 minutes in 3 workers).

A SIGTERM (CI's ``.ci/run`` ends a ``make test`` still running at its limit) has every pytest process
write every thread's stack to the real stderr before it ends, and the main process (pytest-xdist's
controller) the names of the tests running then: a test waiting on uvloop is not on its stack.

The hooks are imported into tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import functools
import inspect
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from typing import Any

import pytest

# How long before the limit an async test's own timeout ends it (at most a quarter of a short limit).
ASYNC_MARGIN_S = 5.0
STARTED = pytest.StashKey[float]()
REAL_STDERR = pytest.StashKey[int]()
# The file that lists the tests which ended a process (layer 3), one a line, shared by a run's workers.
ENDED_TESTS = pytest.StashKey[Path]()


def limit_s(item: pytest.Item) -> float:
    """The test's limit in seconds, as pytest-timeout reads it (0: none)."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        value = marker.kwargs.get("timeout", marker.args[0] if marker.args else None)
        if value is not None:
            return float(value)
    option = item.config.getoption("timeout", None)
    return float(option if option is not None else item.config.getini("timeout") or 0)


def child_processes(pid: int) -> list[int]:
    """Every process descended from ``pid`` (Linux's /proc; none found elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # after the command's name, which may hold spaces
        children.setdefault(parent, []).append(int(entry))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), ()):
            found.append(child)
            pending.append(child)
    return found


def end_process(nodeid: str, after_s: float, stderr_fd: int, ended_tests: Path) -> None:
    """The last resort: the test's name and every thread's stack to the real stderr, the child processes
    killed, the test listed in ``ended_tests``, the process ended (a pytest-xdist worker is replaced)."""
    with ended_tests.open("a") as listed:
        listed.write(nodeid + "\n")
    header = f"\n{nodeid} still running {after_s:g} s after its start: every thread's stack, then its "
    os.write(stderr_fd, (header + "child processes killed and this process ended\n").encode())
    faulthandler.dump_traceback(file=stderr_fd, all_threads=True)
    for child in child_processes(os.getpid()):
        with contextlib.suppress(ProcessLookupError):  # ended meanwhile
            os.kill(child, signal.SIGKILL)
    os._exit(1)


def limited(test: Callable[..., Coroutine[Any, Any, Any]], deadline: float, message: str) -> Callable[..., Any]:
    """``test`` under ``asyncio.timeout`` until ``deadline`` (time.monotonic): past it, a failure saying
    ``message``, chained to the cancellation's traceback (the line the test waited on)."""

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> Any:
        timeout = asyncio.timeout(max(0.0, deadline - time.monotonic()))
        try:
            async with timeout:
                return await test(*args, **kwargs)
        except TimeoutError as error:
            if not timeout.expired():
                raise
            # Its work done, pytest-timeout's SIGALRM is put off: raised while pytest builds this failure's
            # report it would be a pytest INTERNALERROR, ending the worker. A teardown that hangs is the
            # watchdog's to end (layer 3).
            signal.setitimer(signal.ITIMER_REAL, 0)
            raise pytest.fail.Exception(message, pytrace=True) from error

    return run


class RunningTests:
    """The main process's plugin: the tests started and not finished (a pytest-xdist controller hears of
    its workers'), written to the real stderr at a SIGTERM, before the process ends as SIGTERM's default."""

    def __init__(self, stderr_fd: int) -> None:
        self.stderr_fd = stderr_fd
        self.running: set[str] = set()

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running.add(nodeid)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.running.discard(nodeid)

    def on_sigterm(self, signum: int, frame: object) -> None:
        names = "".join(f"  {nodeid}\n" for nodeid in sorted(self.running)) or "  (none)\n"
        os.write(self.stderr_fd, f"\nSIGTERM; the tests running:\n{names}".encode())
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def pytest_configure(config: pytest.Config) -> None:
    # Capture is suspended during pytest_configure: fd 2 is the real stderr (a worker's is its controller's).
    stderr_fd = config.stash[REAL_STDERR] = os.dup(2)
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None:
        config.stash[ENDED_TESTS] = Path(worker_input["ended_tests"])
    else:
        config.stash[ENDED_TESTS] = Path(tempfile.mkdtemp(prefix="pytest-ended-")) / "tests"
        running = RunningTests(stderr_fd)
        config.pluginmanager.register(running, "running-tests")
        signal.signal(signal.SIGTERM, running.on_sigterm)
    # First the stacks (from C: also of a thread that runs no Python), then the handler above, if any.
    faulthandler.register(signal.SIGTERM, file=stderr_fd, all_threads=True, chain=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand a pytest-xdist worker the run's list of tests that ended a process."""
    node.workerinput["ended_tests"] = str(node.config.stash[ENDED_TESTS])


def pytest_unconfigure(config: pytest.Config) -> None:
    faulthandler.unregister(signal.SIGTERM)
    os.close(config.stash[REAL_STDERR])
    if not hasattr(config, "workerinput"):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        shutil.rmtree(config.stash[ENDED_TESTS].parent, ignore_errors=True)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that ended a worker fails at once when handed to its replacement."""
    ended_tests = item.config.stash[ENDED_TESTS]
    if ended_tests.exists() and item.nodeid in ended_tests.read_text().splitlines():
        pytest.fail("not run again: it ran past twice its time limit and ended a worker (its stack is in the log)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Start the test's clock and its watchdog at twice its limit (layer 3)."""
    item.stash[STARTED] = time.monotonic()
    limit = limit_s(item)
    watchdog = None
    if limit > 0:
        arguments = (item.nodeid, 2 * limit, item.config.stash[REAL_STDERR], item.config.stash[ENDED_TESTS])
        watchdog = threading.Timer(2 * limit, end_process, arguments)
        watchdog.daemon = True
        watchdog.start()
    try:
        return (yield)
    finally:
        if watchdog is not None:
            watchdog.cancel()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Run an async test's coroutine under its own timeout (layer 1)."""
    test = getattr(item, "obj", None)
    limit = limit_s(item)
    if limit <= 0 or test is None or not inspect.iscoroutinefunction(test):
        return (yield)
    margin = min(ASYNC_MARGIN_S, limit / 4)
    message = f"Timeout: the test's task cancelled {limit - margin:g} s after its start (its limit: {limit:g} s)"
    item.obj = limited(test, item.stash[STARTED] + limit - margin, message)  # type: ignore[attr-defined]
    try:
        return (yield)
    finally:
        item.obj = test  # type: ignore[attr-defined]
