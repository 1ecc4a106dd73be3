"""The command line: flags, their defaults, and a real process serving until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys

import aiohttp
import orjson

from sidecar.fake_provider import add_arguments, run_from_args
from sidecar.fake_provider.cli import config_from_args

from ..listening import port_zero


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults():
    """Without flags: 127.0.0.1:9000, name fake, no delays, no faults."""
    args = parse()
    assert (args.host, args.port) == ("127.0.0.1", 9000)
    config = config_from_args(args)
    assert (config.name, config.latency_ms, config.fault, config.fault_rate) == ("fake", 0, None, 0)


def test_fault_without_rate_applies_always():
    """``--fault`` alone applies to every request; ``--fault-rate`` overrides."""
    assert config_from_args(parse("--fault", "status=503")).fault_rate == 1.0
    assert config_from_args(parse("--fault", "status=503", "--fault-rate", "0.1")).fault_rate == 0.1


def test_bad_option_exits_2(capsys):
    """An invalid option value is reported and the exit code is 2."""
    assert run_from_args(parse("--fault", "explode")) == 2
    assert "unknown fault kind" in capsys.readouterr().err


def test_a_port_out_of_range_exits_2_in_one_line():
    """``llm-sidecar fake-provider --port 99999`` (or -1): a bad option, exit 2 with one line naming it, as
    docs/fake-provider.md says; it was bind()'s OverflowError, a traceback and exit 1."""
    import subprocess

    for port in ("99999", "-1"):
        result = subprocess.run(
            [sys.executable, "-m", "sidecar", "fake-provider", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (result.returncode, result.stderr) == (2, f"fake-provider: --port {port} is out of range (0 to 65535)\n")


def test_a_ports_file_it_cannot_write_exits_2(capsys, tmp_path):
    """``--ports-file`` in a directory that does not exist is refused before listening, exit 2."""
    assert run_from_args(parse("--port", "0", "--ports-file", str(tmp_path / "no" / "p.json"))) == 2
    assert f"no directory {tmp_path / 'no'}" in capsys.readouterr().err


def test_a_port_in_use_exits_1(capsys):
    """When the port is taken, the command says so and exits 1 (no traceback)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run_from_args(parse("--port", str(port))) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err


async def test_process_serves_until_sigterm(tmp_path):
    """``python -m sidecar.fake_provider --port 0 --ports-file PATH`` listens on a free port, which its
    ``listening on`` line and the ports file both give; it serves requests and exits 0 on SIGTERM."""
    ports_file = tmp_path / "fake.ports"
    argv = ["-m", "sidecar.fake_provider", *port_zero(ports_file), "--name", "cli", "--reply", "pong"]
    process = await asyncio.create_subprocess_exec(sys.executable, *argv, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stderr is not None
        line = await asyncio.wait_for(process.stderr.readline(), timeout=10)
        port = orjson.loads(ports_file.read_bytes())["port"]
        assert port != 0 and f"listening on http://127.0.0.1:{port}\n" in line.decode()
        body = {"model": "m", "messages": [{"role": "user", "content": "ping"}]}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body) as response,
        ):
            answer = await response.json()
        assert answer["choices"][0]["message"]["content"] == "pong"
        assert response.headers["x-fake-server"] == "cli"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
