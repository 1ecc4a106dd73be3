"""The shutdown after the drain stays within the drain timeout (server/app.py, ``closing_s``, as
``lifecycle.serve`` uses it): a sidecar whose collector does not answer exits within about a second of
``SIDECAR_DRAIN_TIMEOUT_S``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ..listening import port_zero, wait_ports


def test_a_black_holed_collector_does_not_hold_the_exit_past_the_drain_timeout(tmp_path: Path) -> None:
    """The OTLP collector accepts connections and never answers; spans wait for it. After SIGTERM the
    sidecar exits 0 within 2.5 s of its 1 s drain timeout (before 2026-12-05 the exporters' last flush
    waited 5 s more, whatever the drain timeout)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n  up: {kind: fake, base_url: 'http://127.0.0.1:9', speaks: openai}\n"
        "models:\n  m: {provider: up, model: m}\ndefault: {target: m}\n"
    )
    ports = tmp_path / "sidecar.ports"
    with socket.socket() as hole:  # listens (the kernel accepts), never read or answered
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{hole.getsockname()[1]}",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "SIDECAR_DRAIN_TIMEOUT_S": "1",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            port = wait_ports(ports, proc)["port"]
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                data=b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}',
                headers={"content-type": "application/json"},
            )
            with pytest.raises(urllib.error.HTTPError) as answer:  # nothing listens upstream: a 502, and spans
                urllib.request.urlopen(request, timeout=30)
            answer.value.close()  # its socket
            assert answer.value.code == 502
            hole.settimeout(30)
            exporting, _ = hole.accept()  # the spans' export (50 ms after the 502's span) has connected
            with exporting:
                assert exporting.recv(1, socket.MSG_PEEK)  # and sent its request: it waits for an answer
                started = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(timeout=30)
                took = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert code == 0
    assert took < 1 + 2.5, took
