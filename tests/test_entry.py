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
