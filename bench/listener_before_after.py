"""The sidecar on its own listener (before issue 16) against the sidecar on aiohttp.web, alternating.

Starts nginx (the fixed upstream), the featureless aiohttp proxy, and two sidecars: one from ``--old``
(a source tree, e.g. ``git archive 96ab8ad | tar -x -C /tmp/old``) and one from this tree. Then, like
added_latency.py, one request to each target in turn on one connection, ``--requests`` times (p50 and
added p50 of a non-stream chat), and the same for the time to the first byte of a stream
(``measuring.alternating_medians``).

    python bench/listener_before_after.py --old /tmp/old [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from added_latency import alternate
from listening import read_port, stop_all
from measuring import alternating_medians
from nginx_upstream import nginx_on_free_port
from sidecar_under_test import ROOT, sidecar_on_port_zero, sidecar_policy, start_minimal


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="listener-before-after-"))
    nginx, upstream = nginx_on_free_port(workdir)
    procs = [nginx]
    ports: dict[str, int] = {}
    try:
        procs.append(start_minimal(upstream, workdir / "minimal.ports"))
        minimal = read_port(workdir / "minimal.ports")
        policy = sidecar_policy(workdir, upstream, "chain")
        for name, source in (("own listener", args.old), ("aiohttp.web", ROOT)):
            # ``source`` from before port 0 starts on a free pick (``sidecar_under_test.start_sidecar``)
            proc, ports[name] = sidecar_on_port_zero(
                policy, workdir / f"{name.replace(' ', '-')}.ports", {}, code=source, optimised=False
            )
            procs.append(proc)
        chat = "/v1/chat/completions"
        urls = {
            "direct": f"http://127.0.0.1:{upstream}{chat}",
            "minimal aiohttp proxy": f"http://127.0.0.1:{minimal}{chat}",
        }
        urls |= {f"sidecar, {name}": f"http://127.0.0.1:{port}{chat}" for name, port in ports.items()}
        samples = asyncio.run(alternate(urls, args.requests))
        probes = {"direct": (f"http://127.0.0.1:{upstream}/stream{chat}", "bench-model", True)}
        probes |= {
            f"sidecar, {name}": (f"http://127.0.0.1:{port}{chat}", "stream-model", True) for name, port in ports.items()
        }
        first_bytes = asyncio.run(alternating_medians(probes, 300))
    finally:
        stop_all(procs)
    direct = statistics.median(samples["direct"])
    print(f"Command: `python bench/listener_before_after.py --old {args.old} --requests {args.requests}` "
          f"({time.strftime('%Y-%m-%d %H:%M')})\n\n| target | chat p50 (ms) | added | stream first byte (ms) | added |"
          "\n|---|---|---|---|---|")  # fmt: skip
    for name, values in samples.items():
        p50 = statistics.median(values)
        fb = first_bytes.get(name)
        stream = f"{fb:.3f} | {fb - first_bytes['direct']:+.3f}" if fb is not None else "- | -"
        print(f"| {name} | {p50:.3f} | {p50 - direct:+.3f} | {stream} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
