"""What ``soak_mix.py`` samples from the sidecar (``sample``): RSS, file descriptors, threads, live asyncio
tasks (counted inside the sidecar by ``HOOK``, a ``sitecustomize``), TCP connections (``ss``), /metrics
series and cache bytes, the /status targets and reloads; ``summary`` compares a step's first and last
samples, ``error_events`` counts the error-level events of the sidecar's log.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

HOOK = """
import asyncio, collections, gc, json, os, threading, time
def _count():
    path = os.environ["SOAK_TASKS_FILE"]
    types_every = float(os.environ.get("SOAK_TYPES_S", "0"))
    next_types = time.monotonic() + types_every
    while True:
        time.sleep(1.0)
        for _ in range(20):
            try:
                n = sum(1 for task in list(asyncio.tasks._all_tasks) if not task.done())
                break
            except RuntimeError:
                continue
        else:
            continue
        with open(path + ".tmp", "w") as out:
            out.write(str(n))
        os.replace(path + ".tmp", path)
        if types_every and time.monotonic() >= next_types:
            next_types = time.monotonic() + types_every
            counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
            tasks = collections.Counter()
            for task in list(asyncio.tasks._all_tasks):
                if task.done():
                    continue
                names, coro = [], task.get_coro()
                while coro is not None and len(names) < 8:
                    names.append(getattr(coro, "__qualname__", type(coro).__name__))
                    coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
                tasks[" > ".join(names)] += 1
            row = {"objects": dict(counts.most_common(60)), "tasks": dict(tasks)}
            with open(path + ".types", "a") as out:
                out.write(json.dumps(row) + chr(10))
threading.Thread(target=_count, daemon=True, name="soak-task-count").start()
"""


def ss_connections(pid: int, port: int) -> tuple[int, int]:
    """The sidecar's established TCP connections: (from the app, to upstreams and Redis)."""
    out = subprocess.run(["ss", "-tnpH", "state", "established"], capture_output=True, text=True).stdout
    local = [line.split()[2] for line in out.splitlines() if f"pid={pid}," in line]
    inbound = sum(1 for address in local if address.endswith(f":{port}"))
    return inbound, len(local) - inbound


def scrape(url: str) -> tuple[int, dict[str, float]]:
    import urllib.request

    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        for name in ("llm_sidecar_cache_bytes", "llm_sidecar_cache_entries"):
            if line.startswith(name + "{") or line.startswith(name + " "):
                values[name] = values.get(name, 0) + float(line.rsplit(" ", 1)[1])
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    return series, values


def status(url: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(url + "/status", timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def sample(pid: int, url: str, tasks_file: Path, sent: int) -> dict[str, Any]:
    proc = Path(f"/proc/{pid}/status").read_text()
    series, values = scrape(url)
    state = status(url)
    app_conns, upstream = ss_connections(pid, int(url.rsplit(":", 1)[1]))
    breakers = collections.Counter(t.get("breaker", {}).get("state", "?") for t in state["targets"].values())
    return {
        "t": time.monotonic(),
        "sent": sent,
        "rss_kb": int(proc.split("VmRSS:")[1].split()[0]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(proc.split("Threads:")[1].split()[0]),
        "tasks": int(tasks_file.read_text()) if tasks_file.exists() else -1,
        "app_conns": app_conns,
        "upstream": upstream,
        "series": series,
        "targets": len(state["targets"]),
        "breakers": dict(breakers),
        "cache_bytes": values.get("llm_sidecar_cache_bytes"),
        "cache_entries": values.get("llm_sidecar_cache_entries"),
        "reloads": (state["policy"]["reloads_ok"], state["policy"]["reloads_failed"]),
    }


def summary(number: int, samples: list[dict[str, Any]]) -> str:
    first, last = samples[0], samples[-1]
    sent = max(1, last["sent"] - first["sent"])
    rows = []
    for key in ("rss_kb", "fds", "threads", "tasks", "app_conns", "upstream", "series", "targets", "cache_bytes"):
        a, b = first[key], last[key]
        if a is None or b is None:
            rows.append(f"| {number} | {key} | {a} | {b} | |")
            continue
        peak = max(s[key] for s in samples if s[key] is not None)
        rows.append(f"| {number} | {key} | {a:,.0f} | {b:,.0f} (peak {peak:,.0f}) | {(b - a) * 10_000 / sent:+,.1f} |")
    return "\n".join(rows)


def error_events(log: Path) -> collections.Counter[str]:
    events: collections.Counter[str] = collections.Counter()
    for line in log.read_text(errors="replace").splitlines():
        if '"level":"error"' in line.replace(" ", "") or "Traceback" in line or '"level":"critical"' in line:
            match = re.search(r'"event":\s*"([^"]+)"', line)
            events[match.group(1) if match else line[:120]] += 1
    return events
