"""CPU instructions per relayed stream event, counted by valgrind: same dialect and translated pairs.

The wall-clock relay bench (``relay_cost.py``) measures the shared machine's load as much as the code;
instructions executed do not move with it. Each sidecar runs under ``valgrind --tool=callgrind``
(every thread counted; ``callgrind_control --dump``, which also resets the counters, before and after
each phase) and serves, after one uncounted stream of each pair (first-use work, which the first pair's
short phase counted before wave 33), per pair, ``--streams`` sequential streamed chats once with ``--short`` and
once with ``--long`` content events per stream, from a paced upstream in its own process (one event per
upstream write, ``--gap-ms`` apart, so that the sidecar reads, judges, translates and writes each
event separately, as with a real provider). The difference of the two counts divided by ``streams *
(long - short)`` is the cost of one more event: the per-request work cancels out. The sidecars (this
tree and the baseline) run at once, each from its own start-up.

    python bench/relay_instructions.py [--pairs same,anthropic-openai,gemini-openai,openai-anthropic,openai-gemini,
        gemini-gemini,gemini-usage-gemini,gemini-usage-openai,gemini-usage-anthropic]
        [--streams 8] [--short 5] [--long 105] [--gap-ms 15] [--baseline REF] [--also-validating] [--cached]
        [--floor]

A pair is ``upstream-caller``: ``anthropic-openai`` is an OpenAI SDK's stream answered by an Anthropic
provider; ``same`` is OpenAI to OpenAI (forwarded as it came); ``openai-gemini`` is a google-genai stream
(``streamGenerateContent?alt=sse``) answered by an OpenAI provider; ``gemini-gemini`` a google-genai stream
relayed as it came; a ``gemini-usage`` upstream sends Gemini's stream as Gemini does, its usage (the counts
so far) on every fragment, not only on the last (``relay_cost.gemini_usage_chunk``): against ``gemini``,
the cost of reading and merging that usage per event. ``--baseline REF`` also counts the
sidecar at git revision REF (``sidecar_under_test.checkout``); ``--also-validating`` this tree once more with
``defaults.streams.validate_events: true``; ``--cached`` serves every model through a caching route
(``cacheable: always``), each request sent with ``x-sidecar-cache: refresh``: no lookup, every stream
called upstream and assembled into an entry as it passes (the cache's tap), then stored; ``--floor`` also
counts the featureless aiohttp relay (``relay_cost.serve_minimal``, OpenAI to OpenAI: the floor no sidecar
code can go under) as the pair ``same``. Needs valgrind (callgrind_control).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from listening import start_with_ports_file, wait_port
from measuring import tools_present, wait_http
from relay_cost import STREAMS, serve_upstream
from sidecar_under_test import checkout, sidecar_command

PAIRS = {  # name: (upstream dialect, caller dialect)
    "same": ("openai", "openai"),
    "anthropic-openai": ("anthropic", "openai"),
    "gemini-openai": ("gemini", "openai"),
    "openai-anthropic": ("openai", "anthropic"),
    "openai-gemini": ("openai", "gemini"),
    "gemini-gemini": ("gemini", "gemini"),
    "gemini-usage-gemini": ("gemini-usage", "gemini"),
    "gemini-usage-openai": ("gemini-usage", "openai"),
    "gemini-usage-anthropic": ("gemini-usage", "anthropic"),
}


def policy(workdir: Path, upstream: int, short: int, long: int, defaults: str = "", cached: bool = False) -> Path:
    """One model per (upstream dialect, event count): ``from-<dialect>-<n>``; ``defaults``: the policy's
    ``defaults:`` block (YAML flow text), if any; ``cached``: each model behind a caching route."""
    lines = [
        "version: 1",
        *([f"defaults: {defaults}"] if defaults else []),
        "providers:",
        f'  paced-openai: {{dialect: openai, base_url: "http://127.0.0.1:{upstream}/v1"}}',
        f'  paced-anthropic: {{dialect: anthropic, base_url: "http://127.0.0.1:{upstream}"}}',
        f'  paced-gemini: {{dialect: gemini, base_url: "http://127.0.0.1:{upstream}"}}',
        "models:",
    ]
    for dialect in STREAMS:
        provider, prefix = ("gemini", "usage-") if dialect == "gemini-usage" else (dialect, "")
        for n in (short, long):
            model = f"{{provider: paced-{provider}, model: {prefix}events-{n}, max_output_tokens: 1024}}"
            lines.append(f"  from-{dialect}-{n}: {model}")
    if cached:
        lines.append("routes:")
        lines += [
            f"  - {{name: r-{dialect}-{n}, match: {{model: from-{dialect}-{n}}}, target: [from-{dialect}-{n}],"
            " cache: {enabled: true, cacheable: always}}"
            for dialect in STREAMS
            for n in (short, long)
        ]
    path = workdir / ("policy-validating.yaml" if defaults else "policy.yaml")
    path.write_text("\n".join(lines) + "\n")
    return path


def request(caller: str, model: str) -> tuple[str, bytes, bytes]:
    """The caller's path, body, and the bytes its stream must end with."""
    messages = [{"role": "user", "content": "count"}]
    if caller == "anthropic":
        body = {"model": model, "max_tokens": 256, "stream": True, "messages": messages}
        return "/v1/messages", json.dumps(body).encode(), b'"message_stop"}\n\n'
    if caller == "gemini":
        contents = {"contents": [{"role": "user", "parts": [{"text": "count"}]}]}
        return f"/v1beta/models/{model}:streamGenerateContent?alt=sse", json.dumps(contents).encode(), b'"}\n\n'
    body = {"model": model, "stream": True, "messages": messages}
    return "/v1/chat/completions", json.dumps(body).encode(), b"data: [DONE]\n\n"


class Counted:
    """A sidecar running under ``valgrind --tool=callgrind``, whose counters are read per phase:
    ``callgrind_control --zero`` before a phase and ``--dump`` after it (one start-up per sidecar)."""

    def __init__(
        self, command: list[str], env: dict[str, str], ports_file: Path, code: Path | None, workdir: Path
    ) -> None:
        """``command`` listens on port 0 and writes ``ports_file`` (``listening.port_zero``)."""
        self.out = workdir / f"callgrind-{ports_file.stem}"
        self.log = (workdir / f"callgrind-{ports_file.stem}.txt").open("w")
        ports_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.out}", *command],
            env={**env, "OTEL_METRIC_EXPORT_INTERVAL": "3600000", "SIDECAR_LOG_LEVEL": "warning"},
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            cwd=code,
        )
        self.dumps = 0
        self.port = wait_port(ports_file, self.proc, timeout=600)
        wait_http(f"http://127.0.0.1:{self.port}/readyz", timeout=600)

    def phase(self, calls: list[tuple[str, bytes, bytes]], headers: dict[str, str]) -> int:
        """Instructions the sidecar executed (all threads) serving ``calls``, one after the other, each with
        ``headers``."""
        self._dump()  # what came before: a dump resets every thread's counters (--zero, only the running one's)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        for path, body, ending in calls:
            connection.request("POST", path, body, {"Content-Type": "application/json", **headers})
            answer = connection.getresponse()
            data = answer.read()
            if answer.status != 200 or not data.endswith(ending):
                raise RuntimeError(f"HTTP {answer.status}, stream ends {data[-80:]!r}")
        connection.close()
        return self._dump()

    def _dump(self) -> int:
        """Dump the counters (and reset them); the instructions counted since the last dump."""
        subprocess.run(["callgrind_control", "--dump", str(self.proc.pid)], check=True, capture_output=True)
        self.dumps += 1
        dump = Path(f"{self.out}.{self.dumps}")
        match = re.search(r"^totals:\s+(\d+)", dump.read_text(), re.M)
        if match is None:
            raise RuntimeError(f"no instruction count in {dump}")
        return int(match.group(1))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=300)
        self.log.close()


def measure(tree: tuple[str, Path | None, Path], args: argparse.Namespace) -> list[tuple[str, str, float]]:
    """(pair, tree, instructions per event) for each pair, from one sidecar of ``tree`` (name, code, policy)."""
    name, code, path = tree
    ports_file = Path(path).parent / f"sidecar-{name.replace(' ', '-')}.ports"
    command, env = sidecar_command(path, ports_file, {})
    if code is not None:
        env["PYTHONPATH"] = str(code)
    sidecar = Counted(command, env, ports_file, code, Path(path).parent)
    rows = []
    headers = {"x-sidecar-cache": "refresh"} if args.cached else {}
    try:
        for pair in args.pairs.split(","):  # first-use work (imports, caches, the pool's connection), uncounted
            source, caller = PAIRS[pair]
            sidecar.phase([request(caller, f"from-{source}-{args.short}")], headers)
        for pair in args.pairs.split(","):
            source, caller = PAIRS[pair]
            short, long = (
                sidecar.phase([request(caller, f"from-{source}-{n}")] * args.streams, headers)
                for n in (args.short, args.long)
            )
            rows.append((pair, name, (long - short) / (args.streams * (args.long - args.short))))
    finally:
        sidecar.stop()
    return rows


def measure_floor(args: argparse.Namespace, upstream_port: int, workdir: Path) -> list[tuple[str, str, float]]:
    """The featureless aiohttp relay's instructions per event (pair ``same``, its models ``same-<length>``)."""
    ports_file = workdir / "floor.ports"
    relay_cost = str(Path(__file__).with_name("relay_cost.py"))
    lengths = ["--short", str(args.short), "--long", str(args.long)]
    command = [sys.executable, relay_cost, "--serve-minimal", str(ports_file), str(upstream_port), *lengths]
    floor = Counted(command, {**os.environ}, ports_file, None, workdir)
    try:
        floor.phase([request("openai", "same-short")], {})  # first-use work (imports, the pool's connection)
        short, long = (
            floor.phase([request("openai", f"same-{length}")] * args.streams, {}) for length in ("short", "long")
        )
    finally:
        floor.stop()
    return [("same", "floor (aiohttp relay)", (long - short) / (args.streams * (args.long - args.short)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-upstream", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pairs", default=",".join(PAIRS))
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--short", type=int, default=5)
    parser.add_argument("--long", type=int, default=105)
    parser.add_argument("--gap-ms", type=float, default=15.0)
    parser.add_argument("--baseline", default="")
    parser.add_argument(
        "--also-validating",
        action="store_true",
        help="also count this tree with defaults.streams.validate_events: true (every relayed event parsed)",
    )
    parser.add_argument(
        "--cached", action="store_true", help="every model behind a caching route, each stream refreshing its entry"
    )
    parser.add_argument("--floor", action="store_true", help="also count the featureless aiohttp relay")
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream, args.gap_ms / 1000)
        return 0
    if not tools_present("valgrind"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-relay-instructions-"))
    ports = workdir / "upstream.ports"
    upstream, upstream_port = start_with_ports_file(
        [sys.executable, __file__, "--serve-upstream", str(ports), "--gap-ms", str(args.gap_ms)], ports
    )
    path = policy(workdir, upstream_port, args.short, args.long, cached=args.cached)
    trees: list[tuple[str, Path | None, Path]] = [("this tree", None, path)]
    if args.also_validating:
        validating = policy(
            workdir, upstream_port, args.short, args.long, "{streams: {validate_events: true}}", args.cached
        )
        trees.append(("this tree, validate_events", None, validating))
    if args.baseline:
        trees.append((args.baseline, checkout(args.baseline, workdir), path))
    rows: list[tuple[str, str, float]] = []
    try:
        with concurrent.futures.ThreadPoolExecutor(len(trees)) as pool:
            for found in pool.map(lambda tree: measure(tree, args), trees):
                rows += found
        if args.floor:
            rows += measure_floor(args, upstream_port, workdir)
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
    baseline = {pair: per for pair, name, per in rows if name == args.baseline}
    command_line = " ".join(["python bench/relay_instructions.py", *sys.argv[1:]])
    lines = [
        f"Command: `{command_line}` ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        "| pair (upstream-caller) | sidecar | instructions per event | vs baseline |",
        "|---|---|---|---|",
    ]
    for pair, name, per in rows:
        compared = pair in baseline and name != args.baseline and not name.startswith("floor")
        ratio = f"{per / baseline[pair] - 1:+.1%}" if compared else ""
        lines.append(f"| {pair} | {name} | {per:,.0f} | {ratio} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
