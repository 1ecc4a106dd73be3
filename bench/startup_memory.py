"""Resident memory of a real sidecar: once ready, and at its peak under a fixed load (issue 16's "RSS at
most 60 MB under load", issue 17's 70 MB traced).

For each setting, one fresh sidecar at a time, started as the image starts it (``python -OO -P -m sidecar
run`` with the Dockerfile's ``ENV``, e.g. ``SSL_CERT_FILE``; from bytecode compiled first, plain and -OO,
as the image's build does); ``--unoptimised`` adds the same sidecar started as ``python -m sidecar run``
(the form before -OO, without the image's ENV) to every round, for the difference:

- ``plain``: the policy ``bench/proxy_bench.py`` uses (two routes, a two-model chain; no feature block);
  ``traced``: the same with traces over OTLP/HTTP at 100% sampling (to nginx, which answers 200);
- ``policies/*.yaml``: the example policies (every feature: routing, cache, budgets, ensembles, gates,
  shadow), with dummy keys; they are started only (their upstreams are not reachable from here).

Printed per sidecar: RSS once ``/readyz`` answers (``VmRSS``, anonymous and file-backed), its threads,
and for ``plain`` and ``traced`` the peak RSS (``VmHWM``) after ``--seconds`` of wrk at 32 connections
and 2 s at one (nginx as the upstream). ``--baseline REF`` measures the sidecar at git revision REF (its
code and its Dockerfile's ENV) in the same rounds, one after the other (a before/after in one run; read
the differences within a round).

    python bench/startup_memory.py [--seconds 4] [--rounds 2] [--baseline REF] [--unoptimised] [--no-examples]
        [--baseline-with NAME=VALUE[,NAME=VALUE]]...

``--baseline-with`` adds the baseline again with variables set (e.g. an image ``ENV`` one at a time).

Needs `apt-get install nginx-light wrk`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from measuring import chat_script, wrk
from nginx_upstream import nginx_running
from sidecar_under_test import (
    ROOT,
    checkout,
    compile_bytecode,
    sidecar_on_port_zero,
    sidecar_policy,
    started_as,
    variant_env,
)

DUMMY_KEYS = {"OPENAI_API_KEY": "sk-bench", "ANTHROPIC_API_KEY": "sk-bench", "GEMINI_API_KEY": "sk-bench"}


def status_kb(pid: int) -> dict[str, int]:
    """The ``kB`` fields of ``/proc/PID/status`` (VmRSS, VmHWM, RssAnon, RssFile) and ``Threads``."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"}:
            fields[name] = int(value.split()[0])
    return fields


def measure(
    name: str,
    policy: Path,
    env: dict[str, str],
    code: Path | None,
    optimised: bool,
    load_url: str | None,
    seconds: int,
    script: Path,
    image: str | None = None,
) -> str:
    """One sidecar's row: started, settled, measured ready, then (``load_url``) loaded and measured at peak.
    ``image``: the git revision whose Dockerfile's ENV an optimised sidecar gets (default: this tree's)."""
    ports = script.with_name("sidecar.ports")  # in the run's work directory, with the wrk script
    proc, port = sidecar_on_port_zero(policy, ports, env, code=code, optimised=optimised, image=image)
    try:
        time.sleep(0.5)  # the log line and the heap freeze after /readyz first answers
        ready = status_kb(proc.pid)
        peak = ""
        if load_url is not None:
            url = load_url.format(port=port)
            wrk(url, 32, seconds, script)
            wrk(url, 1, 2, script)
            after = status_kb(proc.pid)
            peak = f"{after['VmHWM'] / 1024:.1f}"
        else:
            peak = "-"
    finally:
        proc.terminate()
        proc.wait()
    mb = {k: v / 1024 for k, v in ready.items()}
    return f"| {name} | {mb['VmRSS']:.1f} | {mb['RssAnon']:.1f} / {mb['RssFile']:.1f} | {ready['Threads']} | {peak} |"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", help="also measure the sidecar at this git revision (e.g. main)")
    parser.add_argument("--no-examples", action="store_true", help="only the plain and traced bench policies")
    parser.add_argument(
        "--baseline-with",
        action="append",
        default=[],
        metavar="NAME=VALUE[,NAME=VALUE]",
        help="also measure the --baseline revision with these variables added (repeatable: one change at a time)",
    )
    parser.add_argument(
        "--unoptimised", action="store_true", help="also measure each sidecar started without -OO, in the same rounds"
    )
    args = parser.parse_args()
    print(started_as(True), flush=True)
    if args.unoptimised:
        print("and, in the rows marked 'no -OO', as: python -m sidecar run", flush=True)
    compile_bytecode()
    forms = [True, False] if args.unoptimised else [True]
    with tempfile.TemporaryDirectory() as tmp, nginx_running(Path(tmp)) as upstream:
        workdir = Path(tmp)
        script = chat_script(workdir)
        codes: list[tuple[str, Path | None, str | None, dict[str, str]]] = [("this tree", None, None, {})]
        if args.baseline:  # its code, and its image's ENV
            base = checkout(args.baseline, workdir)
            codes.append((args.baseline, base, args.baseline, {}))
            for added in args.baseline_with:
                extra = dict(item.split("=", 1) for item in added.split(","))
                codes.append((f"{args.baseline} + {added}", base, args.baseline, extra))
        plain = sidecar_policy(workdir, upstream, "chain")
        _, traced_env = variant_env("sidecar-tracing", upstream)
        settings: list[tuple[str, Path, dict[str, str], str | None]] = [
            ("plain", plain, {}, "http://127.0.0.1:{port}/v1/chat/completions"),
            ("traced", plain, traced_env, "http://127.0.0.1:{port}/v1/chat/completions"),
        ]
        if not args.no_examples:
            settings += [(f"policies/{p.name}", p, DUMMY_KEYS, None) for p in sorted(ROOT.glob("policies/*.yaml"))]
        print("| round | code | setting | RSS ready (MB) | anon / file (MB) | threads | peak RSS under load (MB) |")
        print("|---|---|---|---|---|---|---|")
        for round_number in range(args.rounds):
            for name, policy, env, url in settings:
                for label, code, image, extra in codes:
                    for optimised in forms:
                        row = measure(name, policy, {**env, **extra}, code, optimised, url, args.seconds, script, image)
                        form = "-OO" if optimised else "no -OO"
                        print(f"| {round_number} | {label}, {form} {row}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
