"""The load the benchmarks send and what they read from it.

``REQUEST`` is the 330-byte OpenAI chat request every benchmark sends (``request_2k`` a ~2 KB one);
``chat_script`` the wrk script that POSTs it and ``wrk`` one wrk run read into req/s, p50, p99 and errors;
``in_turn`` the order of the targets in each of the interleaved rounds; ``alternating_medians`` the median
of streamed probes taken in turn; ``rss_mb`` and ``peak_rss_mb`` a process's RSS now and at its peak,
``cpu_s`` its CPU seconds so far; ``wait_http`` a readiness wait; ``tools_present`` says which tools to
apt-get install.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


REQUEST = (
    '{"model":"bench-model","messages":[{"role":"system","content":"You are terse."},'
    '{"role":"user","content":"Say hello to the benchmark, in one short sentence please."}],'
    '"temperature":0.2,"max_tokens":64,"user":"bench"}'
)


def request_2k() -> str:
    """A ~2 KB chat request: a system prompt, a few turns, sampling parameters."""
    turns = [{"role": "system", "content": "You are a careful assistant. " * 8}]
    for i in range(6):
        turns.append({"role": "user", "content": f"Question {i}: " + "please explain the tradeoffs. " * 3})
        turns.append({"role": "assistant", "content": f"Answer {i}: " + "it depends on the workload. " * 3})
    turns.append({"role": "user", "content": "Summarise."})
    import json

    return json.dumps({"model": "MODEL", "messages": turns, "max_tokens": 256, "temperature": 0.3, "top_p": 0.9})


def tools_present(*tools: str) -> bool:
    """True if every tool is on PATH; else says which to apt-get install."""
    packages = {"nginx": "nginx-light", "wrk": "wrk", "valgrind": "valgrind"}
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        print(
            f"{', '.join(missing)} not found: apt-get install {' '.join(packages[t] for t in tools)}", file=sys.stderr
        )
    return not missing


def chat_script(workdir: Path) -> Path:
    """The wrk script that POSTs the benchmark's chat request."""
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.body = [[' + REQUEST + ']]\nwrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["Authorization"] = "Bearer sk-bench"\n'
    )
    return script


def wait_http(url: str, timeout: float = 10.0) -> float:
    import urllib.request

    started = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        if time.monotonic() - started > timeout:
            raise TimeoutError(url)
        time.sleep(0.005)


def wrk(url: str, connections: int, seconds: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


async def alternating_medians(probes: dict[str, tuple[str, str, bool]], n: int) -> dict[str, float]:
    """Median ms per probe over ``n`` rounds, each round one request of every probe in turn.

    A probe is ``(url, model, first_byte)``: a streamed chat timed to its first body bytes, or to its
    end. Alternating puts the machine's noise on every probe alike.
    """
    import aiohttp

    samples: dict[str, list[float]] = {name: [] for name in probes}
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            for name, (url, model, first_byte) in probes.items():
                body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "x"}]}
                started = time.perf_counter()
                async with session.post(url, json=body) as response:
                    if first_byte:
                        await response.content.readany()
                        samples[name].append((time.perf_counter() - started) * 1000)
                    await response.read()
                if not first_byte:
                    samples[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def in_turn(items: list[T], round_number: int) -> list[T]:
    """``items`` in the order of round ``round_number``: rotated left by ``round_number // 2`` places,
    and reversed in odd rounds.

    Where a target runs within a round matters on this machine (in one run the variant measured last
    of three did 3 points better whichever it was), so the order changes from round to round: over
    ``2 * len(items)`` rounds every target takes every place twice and runs as often before as after
    each other one (for two targets, any even number of rounds does).
    """
    shift = round_number // 2 % len(items) if items else 0
    turned = items[shift:] + items[:shift]
    return turned if round_number % 2 == 0 else turned[::-1]


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    """The process's resident set size now (``VmRSS``), in MB."""
    return _status_mb(pid, "VmRSS:")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (``VmHWM``), in MB."""
    return _status_mb(pid, "VmHWM:")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
