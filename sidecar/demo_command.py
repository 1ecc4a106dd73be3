"""``llm-sidecar demo``: three fake providers (``fake_provider``, in child processes) and the sidecar on
the embedded demo policy (``sidecar/demo/policy.yaml``), served by the ``serve`` ``cli`` passes once every
provider listens.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources
from typing import TYPE_CHECKING

from .settings import Settings

if TYPE_CHECKING:
    import subprocess


DEMO_PROVIDERS = ((9101, "fake-openai"), (9102, "fake-anthropic"), (9103, "fake-gemini"))
"""The embedded demo policy's fake providers: (port, name); ``sidecar/demo/policy.yaml`` names these ports."""


def cmd_demo(args: argparse.Namespace, *, serve: Callable[[Settings, float], int]) -> int:
    """Three fake providers in the background and the sidecar on the embedded demo policy, started once
    every provider listens (so the first request a newcomer sends is answered, not a connect error), served
    by ``serve`` (``cli``'s: the settings and the start time; the exit code)."""
    import subprocess

    demo_policy = str(resources.files("sidecar").joinpath("demo/policy.yaml"))
    taken = [port for port, _ in DEMO_PROVIDERS if answers(port)]
    if taken:  # checked before the providers start: once they run, an answer could be theirs or not
        ports = ", ".join(map(str, taken))
        print(f"llm-sidecar demo: port {ports} already in use (another demo running?)", file=sys.stderr)
        return 1
    command = [sys.executable, "-m", "sidecar", "fake-provider", "--ttft-ms", "150", "--tokens-per-s", "40"]
    children = [
        (subprocess.Popen([*command, "--port", str(port), "--name", name]), port, name) for port, name in DEMO_PROVIDERS
    ]
    try:
        problem = wait_listening(children)
        if problem is not None:
            print(f"llm-sidecar demo: {problem}", file=sys.stderr)
            return 1
        print(
            f"llm-sidecar demo: fake providers on 9101-9103, sidecar on http://127.0.0.1:{args.port}",
            file=sys.stderr,
        )
        print(
            f"  try: curl -s http://127.0.0.1:{args.port}/v1/chat/completions "
            "-H 'content-type: application/json' "
            '-d \'{"model": "smart", "messages": [{"role": "user", "content": "hello"}]}\'',
            file=sys.stderr,
        )
        settings = Settings.from_env(os.environ, policy_path=demo_policy, port=args.port)
        return serve(settings, time.monotonic())
    finally:
        for child, _, _ in children:
            child.terminate()
        for child, _, _ in children:
            child.wait(timeout=5)


def answers(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def wait_listening(children: Sequence[tuple[subprocess.Popen[bytes], int, str]], timeout_s: float = 20.0) -> str | None:
    """Wait until each ``(process, port, name)`` accepts connections on 127.0.0.1:``port`` (a port
    nothing answered on before the process started). None when all do; else what went wrong: a
    process that exited (its port taken, most likely) or one that did not listen within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    for process, port, name in children:
        while True:
            if answers(port) and process.poll() is None:
                break
            if process.poll() is not None:
                return f"fake provider {name!r} exited (code {process.returncode}); is port {port} in use?"
            if time.monotonic() >= deadline:
                return f"fake provider {name!r} did not listen on port {port} within {timeout_s:g} s"
            time.sleep(0.05)
    return None
