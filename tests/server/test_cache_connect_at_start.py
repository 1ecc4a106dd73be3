"""The response cache's Redis store connects once the start-up is done (server/response_caches.py), so
that the start-up's blocking work is not counted against its PING's timeout."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson

from ..listening import port_zero, wait_ports
from ..redis_server import RedisServer

# A sidecar whose start-up blocks its event loop for well over the cache's 200 ms timeout, as a busy
# node's does: a heap of six million lists that the start-up's one garbage collection walks (0.44 s of
# CPU, ~750 MB; at least that long on an idle machine). The timeout is no shorter: on a loaded machine
# (load 10 on 2 cores) the PING's connection and round trip alone outlasted 100 ms once in 20 runs.
SLOW_START = (
    "import sys; heap = [[i] for i in range(6_000_000)]; "
    "from sidecar.entry import main; sys.argv = ['llm-sidecar', *sys.argv[1:]]; sys.exit(main())"
)


def _policy(tmp_path: Path, redis_url: str) -> Path:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\n"
        "providers:\n  up: {kind: fake, base_url: 'http://127.0.0.1:9', speaks: openai}\n"
        "models:\n  m: {provider: up, model: m}\n"
        "routes:\n  - {name: cached, match: {model: [m]}, target: m, cache: {enabled: true, cacheable: always}}\n"
        "default: {target: m}\n"
        f"cache:\n  redis: {{url: '{redis_url}', timeout_s: 0.2}}\n"
    )
    return policy


def _sidecar_clients(redis: RedisServer) -> int:
    """Connections to the server other than the asking one's."""
    with redis.client() as client:
        return int(client.info("clients")["connected_clients"]) - 1


def _pings(redis: RedisServer) -> int:
    """The PINGs the server has answered (the sidecar's store's warm-up; the asking client sends none)."""
    with redis.client() as client:
        return int(client.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))


def test_a_slow_start_does_not_log_a_healthy_redis_as_failing(redis_server: RedisServer, tmp_path: Path) -> None:
    """A start whose blocking work outlasts the cache's timeout: no ``cache_store_failing`` line and no
    store error; the store's connection is open once the sidecar listens (before 2026-12-05 the PING
    started before that work and timed out)."""
    log = tmp_path / "sidecar.log"
    ports = tmp_path / "sidecar.ports"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", SLOW_START, "run", "--policy", str(_policy(tmp_path, redis_server.url)),
             *port_zero(ports)],
            stdout=out,
        )  # fmt: skip
    try:
        wait_ports(ports, proc, log)
        deadline = time.monotonic() + 30  # a loaded machine's start
        while _pings(redis_server) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        connected = _sidecar_clients(redis_server)  # its PING answered: the sidecar has it or times out
    finally:  # its close waits for the PING: a timeout would be logged by then
        proc.terminate()
        proc.wait(timeout=30)
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    events = [line["event"] for line in lines]
    assert "listening" in events
    assert "cache_store_failing" not in events, [line for line in lines if line["event"] == "cache_store_failing"]
    assert connected >= 1
