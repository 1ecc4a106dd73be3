"""``llm-sidecar demo``: its fake providers on the ports its embedded policy names, and its wait until
each listens (or the reason it gives up), as a newcomer's first command runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .listening import closed_port


def test_demo_provider_ports_are_the_ones_the_demo_policy_names() -> None:
    """The demo waits on the ports its embedded policy sends to: the two lists are the same."""
    import yaml

    from sidecar.demo_command import DEMO_PROVIDERS

    policy = yaml.safe_load((Path(__file__).parents[1] / "sidecar" / "demo" / "policy.yaml").read_text())
    named = {provider["base_url"] for provider in policy["providers"].values()}
    assert named == {f"http://127.0.0.1:{port}" for port, _ in DEMO_PROVIDERS}


def _child(code: str, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], pass_fds=pass_fds)


def test_demo_waits_until_a_provider_listens() -> None:
    """wait_listening returns None once the provider's port accepts connections (here after 0.3 s)."""
    import socket

    from sidecar.demo_command import wait_listening

    # The port stays bound here (no other process can take it) and the child listens on that socket.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        code = f"import socket, time; time.sleep(0.3); socket.socket(fileno={held.fileno()}).listen(); time.sleep(30)"
        child = _child(code, pass_fds=(held.fileno(),))
        try:
            assert wait_listening([(child, port, "fake-openai")], timeout_s=20) is None
        finally:
            child.kill()
            child.wait()


def test_demo_reports_a_provider_that_exited() -> None:
    """A provider process that exits before it listens (its port taken) is named, with the port."""

    from sidecar.demo_command import wait_listening

    with closed_port() as port:  # held: no other process can start listening on it meanwhile
        child = _child("raise SystemExit(2)")
        child.wait()
        problem = wait_listening([(child, port, "fake-anthropic")], timeout_s=5)
    assert problem == f"fake provider 'fake-anthropic' exited (code 2); is port {port} in use?"


def test_demo_gives_up_on_a_provider_that_never_listens() -> None:
    """A provider that runs but never listens is reported after the timeout, not waited on forever."""

    from sidecar.demo_command import wait_listening

    with closed_port() as port:  # held: no other process can start listening on it meanwhile
        child = _child("import time; time.sleep(30)")
        try:
            problem = wait_listening([(child, port, "fake-gemini")], timeout_s=0.5)
        finally:
            child.kill()
            child.wait()
    assert problem == f"fake provider 'fake-gemini' did not listen on port {port} within 0.5 s"


def test_demo_sees_whether_a_port_answers() -> None:
    """``answers`` (the demo's check, before it starts its providers, that their ports are free) is
    True for a listening port and False once it is closed."""
    import socket

    from sidecar.demo_command import answers

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        listening = answers(port)
    assert (listening, answers(port)) == (True, False)
