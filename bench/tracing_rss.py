"""Peak memory of a real sidecar under load, per setting: ``python bench/tracing_rss.py SETTING...``.

Each SETTING is ``variant`` or ``variant:NAME=VALUE,NAME=VALUE`` (a ``proxy_bench.py`` variant, e.g.
``sidecar``, ``sidecar-tracing``, ``sidecar-tracing-10%``, and extra environment for that sidecar, e.g.
``sidecar-tracing:OTEL_BSP_MAX_EXPORT_BATCH_SIZE=512`` or ``sidecar-tracing:MALLOC_ARENA_MAX=2``). One
sidecar at a time, nginx as the upstream and the OTLP collector: started, then ``--seconds`` of wrk at
32 connections and 2 s at one, then its peak RSS (``VmHWM``); ``--rounds`` times over the settings in
turn. Printed per sidecar: RSS once ready, peak RSS after the load, req/s at 32 connections (the
machine's load moves the req/s; under tracing at saturation the span queue is full whatever the rate).

    python bench/tracing_rss.py [--seconds 8] [--rounds 2] sidecar sidecar-tracing sidecar-tracing:MALLOC_ARENA_MAX=2

Needs `apt-get install nginx-light wrk`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from measuring import chat_script, peak_rss_mb, wrk
from nginx_upstream import nginx_running
from sidecar_under_test import sidecar_on_port_zero, sidecar_policy, variant_env


def _setting(text: str) -> tuple[str, dict[str, str]]:
    variant, _, extra = text.partition(":")
    env = dict(pair.split("=", 1) for pair in extra.split(",") if pair)
    return variant, env


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("settings", nargs="+")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        script = chat_script(workdir)
        print("| round | setting | RSS ready (MB) | peak RSS after load (MB) | req/s @32 |")
        print("|---|---|---|---|---|")
        with nginx_running(workdir) as upstream:
            for round_number in range(args.rounds):
                for n, text in enumerate(args.settings):
                    variant, extra = _setting(text)
                    kind, env = variant_env(variant, upstream)
                    own = workdir / f"r{round_number}-{n}"
                    own.mkdir()
                    policy = sidecar_policy(own, upstream, kind)
                    sidecar, port = sidecar_on_port_zero(policy, own / "sidecar.ports", {**env, **extra})
                    try:
                        ready = peak_rss_mb(sidecar.pid)
                        url = f"http://127.0.0.1:{port}/v1/chat/completions"
                        load = wrk(url, 32, args.seconds, script)
                        wrk(url, 1, 2, script)
                        peak = peak_rss_mb(sidecar.pid)
                    finally:
                        sidecar.terminate()
                        sidecar.wait()
                    print(f"| {round_number} | {text} | {ready:.1f} | {peak:.1f} | {load['rps']:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
