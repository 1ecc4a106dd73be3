"""A real ``redis-server`` on a loopback port, for the cache and budgets tests.

redis-server cannot listen on port 0 and say where, so ``RedisServer.launch`` picks a free port and
starts it there, on a new pick when another process took the port first (tests/listening.py,
``start_on_free_port``). A server is ready when *its own* log says "Ready to accept connections", not
when something on the port answers PING (that may be another test run's Redis, which took the port).
``kill`` and ``start`` again keep the port, to play Redis going away and coming back mid-test.

    server = RedisServer(directory, ("--requirepass", "s3cret")).launch()
    server.url, server.client(), server.kill(), server.start()
    server.budget_counter("dollar")       # a budget limit's counter: (used, held)
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis

from .listening import PortTaken, in_use, start_on_free_port

REDIS_SERVER = shutil.which("redis-server")
READY = "Ready to accept connections"


class RedisServer:
    """One redis-server (no persistence), with extra ``args``, or serving TLS only with the ``tls``
    files (``ca``, ``cert``, ``key``)."""

    def __init__(self, directory: Path, args: tuple[str, ...] = (), tls: Mapping[str, Path] | None = None) -> None:
        self.directory = directory
        self.args = args
        self.tls = tls
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.directory / f"redis-{self.port}.log"

    def client(self, **options: Any) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **options)

    def budget_counter(self, limit: str, missing_ok: bool = False) -> tuple[int, int]:
        """The (used, held) of the one counter of budget limit ``limit`` the sidecar keeps here; with
        ``missing_ok``, (0, 0) while the sidecar has not written it yet."""
        with self.client() as client:
            keys = [key for key in client.keys(f"llm-sidecar:{{budgets}}:c:{limit}:*") if not key.endswith(b":r")]
            if missing_ok and not keys:
                return 0, 0
            assert len(keys) == 1, keys
            used, held = client.hmget(keys[0], "u", "h")
        return int(used or 0), int(held or 0)

    def launch(self) -> RedisServer:
        """Start on a free port (another when it is taken first); the server."""

        def on(port: int) -> RedisServer:
            self.port = port
            self.start()
            return self

        return start_on_free_port(on)

    def start(self) -> None:
        """Start on ``self.port``; return once this server listens (``PortTaken`` when the port is not free)."""
        assert REDIS_SERVER is not None, "redis-server is not installed (.ci/run installs it)"
        listen = ["--port", str(self.port)]
        if self.tls:
            listen = [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls["cert"]),
                "--tls-key-file", str(self.tls["key"]),
                "--tls-ca-cert-file", str(self.tls["ca"]),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        self.log.unlink(missing_ok=True)  # a restart must not read the last run's "ready"
        command = [
            REDIS_SERVER,
            *listen,
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--logfile", str(self.log),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            *self.args,
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while READY not in (text := self.log.read_text() if self.log.exists() else ""):
            if self.process.poll() is not None:
                self.process = None
                if in_use(text):
                    raise PortTaken(self.port)
                raise RuntimeError(f"redis-server exited on port {self.port}:\n{text[-2000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not start within 10 s:\n{text[-2000:]}")
            time.sleep(0.01)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None
