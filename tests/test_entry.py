"""The command's entry point (sidecar/entry.py): Ctrl-C at any point of start-up ends as docs/cli.md says."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "llm-sidecar"  # the console script pip wrote from pyproject.toml
# explain reading its request from stdin, which the test never writes: the command starts up (its
# modules, then the policy's), then waits; a Ctrl-C at any of those points means exit 130
ARGS = ("explain", "--policy", str(ROOT / "policies/routing.yaml"), "--request", "-")
POINTS = (
    "gettext",  # the first module the command loads (argparse's, for sidecar.cli): its modules begin to load
    "pydantic",  # in the middle of them (the policy's schema)
    "sidecar.request_facts",  # near their end
    "sidecar.cli",  # all loaded: the arguments parsed, the policy loaded (routing's modules with it)
    "sidecar.routing.matrix",  # the last module the policy loads: then the policy compiled, stdin read
)


def interrupt_repeatedly(process: subprocess.Popen[str]) -> None:
    """SIGINT at once, then every 20 ms until the process ends (more Ctrl-C while the first one ends it)."""
    while process.poll() is None:
        process.send_signal(signal.SIGINT)
        time.sleep(0.02)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize(
    "command", [(sys.executable, "-m", "sidecar"), (str(SCRIPT),)], ids=["python-m-sidecar", "llm-sidecar"]
)
def test_an_interrupt_during_start_up_ends_with_one_line_and_130(command: tuple[str, ...], point: str) -> None:
    """Ctrl-C (and again every 20 ms) as soon as the command has loaded the module ``point`` (the
    interpreter's ``-X importtime`` line for it: an event, not a guess of the time), while the command's
    modules load or once they have: exit 130 and the one line ``llm-sidecar: interrupted``, never a
    traceback. (Before the first, the interpreter's own start-up, runpy's or pip's script's first lines
    run no code of the package: an interrupt there is CPython's to report.)"""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}  # one stderr line per module, once loaded
    with subprocess.Popen(
        [*command, *ARGS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stderr is not None and process.stdout is not None
        guard = threading.Timer(60, process.kill)  # a point never reached: the process would wait for stdin
        guard.start()
        sender = threading.Thread(target=interrupt_repeatedly, args=(process,))
        said = []
        try:
            for line in process.stderr:
                if not line.startswith("import time:"):
                    said.append(line)
                elif not sender.is_alive() and line.rsplit("|", 1)[-1].strip() == point:
                    sender.start()
            out = process.stdout.read()
            process.wait(timeout=60)
        finally:
            guard.cancel()
            process.kill()
            if sender.ident is not None:
                sender.join()
    assert sender.ident is not None, f"the command never loaded {point}"
    assert (process.returncode, out, "".join(said)) == (130, "", "llm-sidecar: interrupted\n")


LOSES_ITS_FIRST_INTERRUPT = """\
import signal, time
from sidecar.entry import _Interrupts
signal.signal(signal.SIGINT, _Interrupts().handle)
try:
    signal.raise_signal(signal.SIGINT)
except KeyboardInterrupt:
    pass  # lost, as in a finalizer or a callback, where Python only reports it and goes on
print("lost", flush=True)
time.sleep(60)
"""


def test_ctrl_c_repeated_after_a_lost_one_ends_the_process_with_130() -> None:
    """A process whose first Ctrl-C was lost (raised where it is only reported, and the process went on:
    here caught and dropped) is ended by the Ctrl-C that keeps coming (every 20 ms, as a user presses it
    again): exit 130 and the one line. Before, every later Ctrl-C was ignored: a clean-clone CI saw such a
    start-up wait on stdin for 60 s."""
    with subprocess.Popen(
        [sys.executable, "-c", LOSES_ITS_FIRST_INTERRUPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == "lost\n"
        sender = threading.Thread(target=interrupt_repeatedly, args=(process,))
        sender.start()
        try:
            said = process.stderr.read()
            process.wait(timeout=30)
        finally:
            process.kill()
            sender.join()
    assert (process.returncode, said) == (130, "llm-sidecar: interrupted\n")


FAILS_AFTER_ITS_INTERRUPT = """\
import signal, sys, types
from sidecar import entry
command = types.ModuleType("sidecar.cli")  # a command whose start-up a Ctrl-C leaves failing otherwise


def main():
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        pass  # swallowed where Python only reports it, as a finalizer's
    raise ImportError("cannot import name 'KeywordSet' from partially initialized module 'sidecar.routing.rules'")


command.main = main
sys.modules["sidecar.cli"] = command
sys.exit(entry.main())
"""


def test_a_start_up_failing_after_its_ctrl_c_ends_with_the_one_line_and_130() -> None:
    """An exception other than ``KeyboardInterrupt`` raised after a Ctrl-C (a module its interrupt left half
    made, imported again) ends as the interrupt does: exit 130 and the one line, no traceback. (The command
    is a stand-in set in ``sys.modules``: the real one fails so only when the interrupt lands on an import's
    few instructions, once in thousands of runs.)"""
    done = subprocess.run(
        [sys.executable, "-c", FAILS_AFTER_ITS_INTERRUPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "llm-sidecar: interrupted\n")
