"""The ``llm-sidecar`` command's entry point (``pyproject.toml``'s script and ``python -m sidecar``).

``main`` imports the command (``cli``, and with it pydantic and the policy's modules: 0.25 s on an idle
machine, 2-3 s on a busy one) and runs it inside one handler, so that Ctrl-C at any point, while the
modules load as while the command runs, ends the same way: ``llm-sidecar: interrupted`` on stderr and
exit 130, without a traceback (docs/cli.md); the first Ctrl-C is the only one raised (``_interrupt_once``:
later ones are ignored). Only modules the interpreter's start-up has already loaded
are imported before the handler. Not covered: the interpreter's own first milliseconds (before it runs
any of the package: its ``site`` module, ``runpy``), whose interrupt is CPython's to report.
"""

from __future__ import annotations

import os
import signal
import sys

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def main() -> int:
    """The command's exit code (``cli.main``); interrupted, the process ends here (``interrupted``)."""
    signal.signal(signal.SIGINT, _interrupt_once)
    try:
        from .cli import main as command

        return command()
    except KeyboardInterrupt:
        return interrupted()


def _interrupt_once(signum: int, frame: object) -> None:
    """SIGINT's handler until a command sets its own (the server's event loop does): the first Ctrl-C
    raises ``KeyboardInterrupt``, and ignores every later one from that instant. With Python's default
    handler, a second Ctrl-C landing after the first was raised and before ``interrupted`` ignored it (the
    unwinding of a deep import, the ``except`` clause) raised again outside the handler: a traceback and
    death by SIGINT, seen once in a loaded test run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


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
