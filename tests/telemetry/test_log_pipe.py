"""stdout's ``LogPipe``: a stalled reader of the logs costs lines (counted and reported), never a write
that waits; and a real sidecar whose stdout nobody reads keeps serving."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import aiohttp
import orjson

from sidecar.telemetry.log_pipe import LogPipe
from sidecar.telemetry.logging import LogOutput

from ..listening import port_zero, wait_ports
from ..server.sidecar_process import start_fake_and_policy

LINE = orjson.dumps({"event": "access", "pad": "x" * 80}) + b"\n"


def _write_lines(pipe: LogPipe, count: int) -> threading.Thread:
    """``count`` lines written to ``pipe`` from a thread of their own (joined with a timeout by the test:
    a write that waits for the reader would hold it)."""

    def write() -> None:
        for index in range(count):
            pipe.write(LINE.replace(b'"access"', b'"access%d"' % index))

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _read_all(fd: int, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        while chunk := os.read(fd, 65536):
            into.append(chunk)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_writes_do_not_wait_for_a_reader_that_stalls() -> None:
    """With nobody reading the pipe (its 64 KiB full), 2,000 lines are still taken at once: the ones past
    the pipe's bound are dropped and counted."""
    read_end, write_end = os.pipe()
    pipe = LogPipe(write_end, max_bytes=16384)
    try:
        writer = _write_lines(pipe, 2000)
        writer.join(5)
        assert not writer.is_alive()
        assert pipe.dropped_total > 0
    finally:
        os.close(read_end)  # the writer thread's blocked write fails: the pipe's thread ends
        pipe.close(5)
        os.close(write_end)


def test_once_the_reader_drains_the_gap_is_reported_and_every_kept_line_is_whole() -> None:
    """Lines dropped while the reader stalled are reported by ``log_lines_dropped`` lines with their
    count; the lines kept arrive whole and in order, and kept plus dropped is what was written."""
    read_end, write_end = os.pipe()
    pipe = LogPipe(write_end, max_bytes=16384)
    writer = _write_lines(pipe, 2000)
    writer.join(5)
    chunks: list[bytes] = []
    reader = _read_all(read_end, chunks)
    written = 2000
    for _ in range(500):  # once the reader has made room, a line after the stall: it follows the report
        before = pipe.dropped_total
        pipe.write(LINE)
        written += 1
        if pipe.dropped_total == before:
            break
        time.sleep(0.01)
    pipe.close(5)
    os.close(write_end)
    reader.join(5)
    os.close(read_end)
    lines = [orjson.loads(line) for line in b"".join(chunks).splitlines()]
    notices = [line for line in lines if line["event"] == "log_lines_dropped"]
    kept = [line["event"] for line in lines if line["event"] != "log_lines_dropped"]
    assert notices and all(notice["level"] == "warning" for notice in notices)
    assert sum(notice["lines"] for notice in notices) == pipe.dropped_total
    assert len(kept) + pipe.dropped_total == written
    numbers = [int(event.removeprefix("access")) for event in kept[:-1]]
    assert numbers == sorted(numbers)
    assert kept[-1] == "access"


def test_close_writes_the_lines_that_wait() -> None:
    """``close`` writes every line taken before it, in order, before the thread ends."""
    read_end, write_end = os.pipe()
    chunks: list[bytes] = []
    reader = _read_all(read_end, chunks)
    pipe = LogPipe(write_end)
    for index in range(10):
        pipe.write(b"%d\n" % index)
    pipe.close(5)
    os.close(write_end)
    reader.join(5)
    os.close(read_end)
    assert b"".join(chunks) == b"".join(b"%d\n" % index for index in range(10))
    assert pipe.dropped_total == 0


async def _end(*children: asyncio.subprocess.Process) -> None:
    """Kill the processes still running (a test that failed midway), and reap them."""
    for child in children:
        if child.returncode is None:
            child.kill()
            await child.wait()


async def test_a_sidecar_whose_stdout_nobody_reads_keeps_serving(tmp_path: Path) -> None:
    """A real sidecar with its stdout on a pipe nobody reads (a stalled log reader) answers 400 requests
    and its health probe: before, a blocking write froze its event loop after about 100 access lines."""
    fake, policy = await start_fake_and_policy(tmp_path, 100000, 3)
    ports = tmp_path / "sidecar.ports"
    env = {**os.environ, "SIDECAR_LOG_LEVEL": "info", "SIDECAR_HEALTH_PORT": "0", "SIDECAR_HEALTH_HOST": "127.0.0.1"}
    read_end, write_end = os.pipe()  # never read: full after 64 KiB
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports),
        env=env, stdout=write_end,
    )  # fmt: skip
    os.close(write_end)
    try:
        found = await asyncio.to_thread(wait_ports, ports, proc)
        url, health = f"http://127.0.0.1:{found['port']}", f"http://127.0.0.1:{found['health_port']}"
        body = {"model": "m", "messages": [{"role": "user", "content": "x" * 200}], "user": "u" * 200}
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for _ in range(400):
                async with session.post(f"{url}/v1/chat/completions", json=body) as response:
                    assert response.status == 200
            async with session.get(f"{health}/healthz") as response:
                assert response.status == 200
    finally:
        await _end(proc, fake)
        os.close(read_end)


async def test_a_sidecar_whose_stderr_nobody_reads_keeps_serving(tmp_path: Path) -> None:
    """stderr carries the console exporters' spans and metrics, written by their own threads: with it (and
    stdout) on pipes nobody reads and both console exporters on, 300 requests are answered promptly and
    SIGTERM still ends the process, with exit 0, within the drain's closing waits."""
    fake, policy = await start_fake_and_policy(tmp_path, 100000, 3)
    ports = tmp_path / "sidecar.ports"
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "console"}
    env |= {"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_METRIC_EXPORT_INTERVAL": "500", "SIDECAR_DRAIN_TIMEOUT_S": "1"}
    out_read, out_write = os.pipe()  # never read: full after 64 KiB
    err_read, err_write = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports),
        env=env, stdout=out_write, stderr=err_write,
    )  # fmt: skip
    os.close(out_write)
    os.close(err_write)
    try:
        url = f"http://127.0.0.1:{(await asyncio.to_thread(wait_ports, ports, proc))['port']}"
        body = {"model": "m", "messages": [{"role": "user", "content": "x" * 300}]}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            for _ in range(300):
                async with session.post(f"{url}/v1/chat/completions", json=body) as response:
                    assert response.status == 200
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        await _end(proc, fake)
        os.close(out_read)
        os.close(err_read)


def test_every_dropped_line_is_handed_to_the_counter() -> None:
    """With ``count_drops_with``, each drop is also counted by the counter given (the sidecar's
    ``llm_sidecar_log_lines_dropped_total``): its sum is ``dropped_total``."""
    read_end, write_end = os.pipe()
    pipe = LogPipe(write_end, max_bytes=16384)
    counted: list[int] = []
    pipe.count_drops_with(lambda labels, lines: counted.append(lines))
    try:
        writer = _write_lines(pipe, 2000)
        writer.join(5)
        assert not writer.is_alive()
        assert pipe.dropped_total > 0 and sum(counted) == pipe.dropped_total
    finally:
        os.close(read_end)
        pipe.close(5)
        os.close(write_end)


def test_the_log_output_reports_the_lines_its_pipe_dropped() -> None:
    """``LogOutput.lines_dropped`` (``/status`` ``.process.log_lines_dropped``) is the count of lines
    stdout's pipe dropped while its reader stalled; 0 for a stream that is no ``LogPipe``."""
    read_end, write_end = os.pipe()
    pipe = LogPipe(write_end, max_bytes=16384)
    try:
        writer = _write_lines(pipe, 2000)
        writer.join(5)
        assert pipe.dropped_total > 0
        assert LogOutput(pipe, logging.INFO).lines_dropped == pipe.dropped_total
        assert LogOutput(io.BytesIO(), logging.INFO).lines_dropped == 0
    finally:
        os.close(read_end)
        pipe.close(5)
        os.close(write_end)
