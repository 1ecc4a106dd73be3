"""CPU instructions per request that five budget limits add, counted by valgrind (the shared machine's
load cannot blur them), through the real sidecar.

    python bench/budgets_instructions.py [--few 100] [--many 600]

Variants (``bench/instructions.py``'s method: each target serves ``--few`` and then ``--many``
sequential requests under ``valgrind --tool=cachegrind``; the difference of the totals over the
difference of the counts is one request): the bench policy without budgets, with one limit (requests
per minute, global), and with the five limits of ``budgets_proxy_bench.py`` (local store). The request
is ``instructions.py``'s (no caller key, no ``x-team``: those two limits count it under ``-``).

Needs valgrind and nginx.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from budgets_proxy_bench import LIMITS
from instructions import count
from proxy_bench import free_port, sidecar_command, sidecar_policy, start_nginx, tools_present

ONE = "\nbudgets:\n  limits:\n    - {name: rpm, measure: requests, amount: 1000000000, window: minute}\n"
VARIANTS = {"no budgets": "", "one limit": ONE, "five limits": LIMITS.replace("STORE", "store: local")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=100)
    parser.add_argument("--many", type=int, default=600)
    args = parser.parse_args()
    if not tools_present("nginx", "valgrind"):
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        upstream = free_port()
        nginx = start_nginx(workdir, upstream)
        results: dict[str, float] = {}
        try:
            time.sleep(0.3)
            base = sidecar_policy(workdir, upstream, "single").read_text()
            for name, extra in VARIANTS.items():
                policy = workdir / f"policy-{len(results)}.yaml"
                policy.write_text(base + extra)
                port = free_port()
                command, env = sidecar_command(policy, port, {"SIDECAR_LOG_LEVEL": "info"})
                few = count(command, port, "/readyz", args.few, env, workdir)
                many = count(command, port, "/readyz", args.many, env, workdir)
                results[name] = (many - few) / (args.many - args.few)
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
    floor = results["no budgets"]
    stamp = time.strftime("%Y-%m-%d %H:%M")
    print(f"Command: `python bench/budgets_instructions.py --few {args.few} --many {args.many}` ({stamp})")
    print("\n| sidecar | instructions per request | added | ratio |\n|---|---|---|---|")
    for name, per in results.items():
        print(f"| {name} | {per:,.0f} | {per - floor:+,.0f} | {per / floor:.3f} |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
