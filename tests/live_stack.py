"""Real processes for end-to-end tests, started as a user starts them: ``llm-sidecar fake-provider``,
``llm-sidecar run`` and ``prometheus``, each on a loopback port (port 0 for the first two, which say
the port they got; a free pick retried when taken for prometheus: tests/listening.py), its output in
a file, stopped (SIGTERM, then SIGKILL) by ``Processes.close``.

Nothing here imports the sidecar's server or telemetry: the tests that use it hold whatever the
listener, upstream client and metrics registry become, as long as the CLI and the documented
metrics, logs and fault injection stay.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from .listening import PortTaken, in_use, port_zero, start_on_free_port, wait_ports
from .sdk_clients import SIDECAR_TIMEOUT_S


def http(method: str, url: str, body: Any = None, timeout: float = SIDECAR_TIMEOUT_S) -> Any:
    """One JSON request; the parsed answer (or None for an empty body)."""
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return orjson.loads(raw) if raw.strip() else None


def wait_ok(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200; fail with the process's log when it exits or time runs out
    (``PortTaken`` when it exited saying its port is in use)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if in_use(log.read_text()):
                raise PortTaken(proc.args)
            pytest.fail(f"{proc.args!r} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError, urllib.error.URLError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.05)
    pytest.fail(f"{url} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


class Processes:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._running: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, args: list[str], env: dict[str, str] | None = None, stdout: int | None = None
    ) -> tuple[subprocess.Popen[bytes], Path]:
        """Start ``args``; stdout goes to ``<name>.out`` (or to the file descriptor ``stdout``), stderr to
        ``<name>.err`` in the work dir."""
        out, err = self.workdir / f"{name}.out", self.workdir / f"{name}.err"
        with out.open("wb") as to_file, err.open("wb") as stderr:
            to = to_file if stdout is None else stdout
            proc = subprocess.Popen(args, stdout=to, stderr=stderr, env={**os.environ, **(env or {})})
        self._running.append(proc)
        return proc, err

    def fake_provider(self, name: str, *options: str) -> str:
        """A fake provider named ``name`` (fault items ``name:spec`` reach it); its base URL."""
        ports = self.workdir / f"{name}.ports"
        args = [sys.executable, "-m", "sidecar", "fake-provider", *port_zero(ports), "--name", name, *options]
        proc, log = self.start(name, args)
        return f"http://127.0.0.1:{wait_ports(ports, proc, log)['port']}"

    def sidecar(self, policy: Path, env: dict[str, str] | None = None) -> tuple[str, Path]:
        """``llm-sidecar run --policy``; its URL (once ready) and the file its JSON log (access lines) goes to."""
        _, ports = self.start_sidecar(policy, env)
        return f"http://127.0.0.1:{ports['port']}", self.workdir / "sidecar.out"

    def start_sidecar(
        self,
        policy: Path,
        env: dict[str, str] | None = None,
        name: str = "sidecar",
        python: tuple[str, ...] = (),
        stdout: int | None = None,
    ) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
        """``python [python] -m sidecar run --policy`` on any free port, its output in ``<name>.out`` (or
        ``stdout``, a file descriptor) and ``.err``; the process and its ports (``port``, and
        ``health_port`` when it has one) once ready."""
        ports_file = self.workdir / f"{name}.ports"
        args = [sys.executable, *python, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports_file)]
        proc, err = self.start(name, args, env, stdout)
        ports = wait_ports(ports_file, proc, err)
        wait_ok(f"http://127.0.0.1:{ports['port']}/readyz", proc, err)
        return proc, ports

    def prometheus(self, config: str) -> str:
        """``prometheus`` on ``config`` (YAML text) with its own data dir; its URL once ready. Prometheus
        cannot say which port it got from port 0: a free pick, tried again when it is taken."""
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is required (Debian package prometheus; .ci/run installs it)")
        config_file = self.workdir / "prometheus.yml"
        config_file.write_text(config)

        def start(port: int) -> str:
            args = [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.workdir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ]
            proc, err = self.start("prometheus", args)
            url = f"http://127.0.0.1:{port}"
            wait_ok(f"{url}/-/ready", proc, err)
            if http("GET", f"{url}/api/v1/status/flags")["data"]["config.file"] != str(config_file):
                proc.wait(timeout=10)  # another run's prometheus answered: ours cannot bind its port
                raise PortTaken(port)
            return url

        return start_on_free_port(start)

    def close(self) -> None:
        for proc in self._running:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._running:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
