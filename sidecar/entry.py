"""The ``llm-sidecar`` command's entry point (``pyproject.toml``'s script and ``python -m sidecar``).

``main`` imports the command (``cli``, and with it pydantic and the policy's modules: 0.25 s on an idle
machine, 2-3 s on a busy one) and runs it inside one handler, so that Ctrl-C at any point, while the
modules load as while the command runs, ends the same way: ``llm-sidecar: interrupted`` on stderr and
exit 130, without a traceback (docs/cli.md), whatever exception the unwinding of the first Ctrl-C ends in;
the first Ctrl-C is the only one raised (``_Interrupts``:
later ones are ignored for a second, then end the process at once). Only modules the interpreter's
start-up has already loaded are imported before the handler. Not covered: the interpreter's own first
milliseconds (before it runs any of the package: its ``site`` module, ``runpy``), whose interrupt is
CPython's to report.
"""

from __future__ import annotations

import os
import signal
import sys
import time

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


SWALLOWED_AFTER_S = 1.0  # a Ctrl-C this long after the first one, which has not ended the process: it was lost


def main() -> int:
    """The command's exit code (``cli.main``); interrupted, the process ends here (``interrupted``)."""
    interrupts = _Interrupts()
    signal.signal(signal.SIGINT, interrupts.handle)
    try:
        from .cli import main as command

        return command()
    except KeyboardInterrupt:
        return interrupted()
    except BaseException:
        if interrupts.first is None:
            raise
        # After a Ctrl-C, what fails is its doing: an import it cut short can leave a module half made, and a
        # later import of it fail with another exception (a loaded clean-clone CI saw one end in a traceback
        # naming a class of ``routing.rules``, and death by SIGINT): the same one line and 130
        return interrupted()


class _Interrupts:
    """SIGINT's handler until a command sets its own (the server's event loop does): the first Ctrl-C raises
    ``KeyboardInterrupt`` (so that what it unwinds cleans up: ``router train``'s temporary file), and a later
    one within ``SWALLOWED_AFTER_S`` of it is ignored. With Python's default handler, a second Ctrl-C landing
    after the first was raised and before ``interrupted`` ignored it (the unwinding of a deep import, the
    ``except`` clause) raised again outside the handler: a traceback and death by SIGINT, seen once in a
    loaded test run. A Ctrl-C later than that ends the process at once (``interrupted``): the first one
    was lost, raised where Python only reports an exception (a finalizer, a callback) and goes on, and the
    command would have gone on waiting (for stdin: a clean-clone CI saw one start-up hang so, its Ctrl-C
    sent every 20 ms ignored for 60 s)."""

    __slots__ = ("first",)

    def __init__(self) -> None:
        self.first: float | None = None  # when the first Ctrl-C came (time.monotonic)

    def handle(self, signum: int, frame: object) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = now
            raise KeyboardInterrupt
        if now - self.first >= SWALLOWED_AFTER_S:
            interrupted()


def interrupted() -> int:
    """Ignore any further Ctrl-C (a second one while this one ends would raise in the middle of it), say
    so in one line, and exit 130 at once (never returns: typed ``int``, not ``NoReturn``, since
    ``typing`` is not loaded yet when this module is). Not by returning 130: CPython may record a
    KeyboardInterrupt as unhandled even after Python code caught it, and then ends the process by
    SIGINT once its exit code is chosen (``Py_RunMain``): an interrupt landing while pydantic loads
    ended so 10 times in 30 here, after the line was printed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        print("llm-sidecar: interrupted", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a reader that left: the exit code still says it
        pass
    os._exit(EXIT_INTERRUPTED)
