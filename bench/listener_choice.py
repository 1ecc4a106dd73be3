"""Which listener: aiohttp.web or an ``asyncio.Protocol`` driving httptools, side by side in one run.

Two featureless proxies that differ only in the listener (the handler and aiohttp's upstream client are the
same): ``minimal_proxy.py`` (aiohttp.web, llhttp via aiohttp's C parser) and ``minimal_httptools_proxy.py``
(httptools, llhttp). Measured round-robin, in an order that changes every round (``measuring.in_turn``):
req/s of the proxied chat request at 32 connections and its p50 at 1 connection (nginx the fixed
upstream), req/s of a bare ``GET /healthz`` at 32 connections (the listener alone), peak RSS.

    python bench/listener_choice.py [--seconds 5] [--rounds 4]

Needs `apt-get install nginx-light wrk` and `pip install httptools`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from listening import start_with_ports_file, stop_all
from measuring import chat_script, in_turn, peak_rss_mb, tools_present, wait_http, wrk
from nginx_upstream import nginx_on_free_port
from sidecar_under_test import ROOT

PROXIES = {"aiohttp.web": "bench/minimal_proxy.py", "httptools Protocol": "bench/minimal_httptools_proxy.py"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    if not tools_present("nginx", "wrk"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="listener-choice-"))
    chat = chat_script(workdir)
    get = workdir / "get.lua"
    get.write_text('wrk.method = "GET"\n')
    nginx, upstream = nginx_on_free_port(workdir)
    procs = [nginx]
    ports: dict[str, int] = {}
    results: dict[str, dict[str, list[float]]] = {name: {"chat32": [], "p50": [], "get32": []} for name in PROXIES}
    try:
        for name, script in PROXIES.items():
            ports_file = workdir / f"{Path(script).stem}.ports"
            proxy = [sys.executable, str(ROOT / script), "0", f"http://127.0.0.1:{upstream}", str(ports_file)]
            proc, ports[name] = start_with_ports_file(proxy, ports_file)
            procs.append(proc)
            wait_http(f"http://127.0.0.1:{ports[name]}/healthz")
        names = list(PROXIES)
        for round_number in range(args.rounds):
            for name in in_turn(names, round_number):
                url = f"http://127.0.0.1:{ports[name]}"
                results[name]["chat32"].append(wrk(url + "/v1/chat/completions", 32, args.seconds, chat)["rps"])
                results[name]["get32"].append(wrk(url + "/healthz", 32, args.seconds, get)["rps"])
        for round_number in range(args.rounds):
            for name in in_turn(names, round_number):
                url = f"http://127.0.0.1:{ports[name]}/v1/chat/completions"
                results[name]["p50"].append(wrk(url, 1, args.seconds, chat)["p50"])
        rss = {name: peak_rss_mb(proc.pid) for name, proc in zip(PROXIES, procs[1:], strict=True)}
    finally:
        stop_all(procs, timeout=10)
    base = names[0]
    lines = [
        f"Command: `python bench/listener_choice.py --seconds {args.seconds} --rounds {args.rounds}` "
        f"({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores; medians of {args.rounds} interleaved rounds)",
        "",
        "| listener | proxied chat req/s @32 | vs aiohttp.web | p50 @1 (ms) | GET /healthz req/s @32 | vs aiohttp.web "
        "| peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        r = {key: statistics.median(values) for key, values in results[name].items()}
        b = {key: statistics.median(values) for key, values in results[base].items()}
        lines.append(
            f"| {name} | {r['chat32']:,.0f} [{min(results[name]['chat32']):,.0f}-{max(results[name]['chat32']):,.0f}] "
            f"| {r['chat32'] / b['chat32']:.2f} | {r['p50']:.3f} | {r['get32']:,.0f} | {r['get32'] / b['get32']:.2f} "
            f"| {rss[name]:.0f} MB |"
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
