"""Where the routed request's extra instructions go, by C function: a live sidecar under callgrind.

``instructions.py`` says how much more a routed request costs than a plain one (routing-20 against the plain
route: about 99,000 of a ~1,010,000 request); ``routing_instructions.py --pieces`` counts routing's own
pieces in one process (about 61,000). This counts the rest where it happens, on the live server: each
variant's sidecar (``proxy_bench.py``'s policy, nginx upstream, started as the image starts it) runs under
``valgrind --tool=callgrind``, serves ``--warm`` requests, has its counters dumped (which resets them),
serves ``--requests`` more on one kept-alive connection and is dumped again. That dump, read here
(``by_function``), gives each C function's instructions, self and inclusive (everything it called), over the
requests; the table is the routed variant's per request minus the plain variant's, the largest differences first.

Python functions are not C functions: the interpreter's loop (``_PyEval_EvalFrameDefault``) is where a
Python function's own bytecodes run (its self cost is the bytecodes' dispatch), and the C functions
those bytecodes call (a dict's lookup, ``float.__repr__``, a regex search, ``bytes.translate``, an
object's allocation, the garbage collector, orjson, aiohttp's Cython header writer) show by their name.
``routing_opcodes.py`` names the Python functions by bytecodes. Inclusive costs of recursive functions
(the eval loop, calls into Python from C) count nested calls more than once: read those rows as
"under", not as shares that add up; the self column adds up to the total.

    python bench/routing_callgrind.py [--warm 100] [--requests 300] [--variants sidecar,sidecar-routing-20]
        [--top 40] [--code DIR] [--ready-timeout 900]

``--code DIR``: the ``sidecar`` package from DIR (a ``git archive`` snapshot) first on ``PYTHONPATH`` (the
base in the same session). Needs valgrind (callgrind_control) and nginx.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from listening import wait_port  # noqa: E402
from measuring import REQUEST, tools_present, wait_http  # noqa: E402
from nginx_upstream import nginx_running  # noqa: E402
from sidecar_under_test import sidecar_command, sidecar_policy, variant_env  # noqa: E402


def send(port: int, requests: int) -> None:
    """``requests`` sequential chat requests on one kept-alive connection (an answer other than 200 raises)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(requests):
        connection.request("POST", "/v1/chat/completions", REQUEST, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"HTTP {answer.status}")
    connection.close()


def dumped(pid: int, out: Path, number: int) -> Path:
    """Dump (and reset) ``pid``'s counters; the dump's file."""
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True)
    return Path(f"{out}.{number}")


def by_function(dump: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Instructions by function name in ``dump`` (a callgrind file, ``--dump-instr=no``): self, and
    inclusive (self plus the calls it made: a recursive function's nested calls counted again)."""
    names: dict[str, str] = {}
    objects: dict[str, str] = {}
    obj = ""
    self_cost: dict[str, int] = {}
    called: dict[str, int] = {}
    current = ""
    after_calls = False

    def name(spec: str) -> str:  # "(id) name" defines, "(id)" refers (callgrind's name compression)
        match = re.match(r"\((\d+)\)(?: (.*))?", spec)
        if match is None:
            return spec
        if match.group(2) is not None:
            names[match.group(1)] = match.group(2)
        return names.get(match.group(1), spec)

    for line in dump.read_text().splitlines():
        if not line:
            continue
        head = line[0]
        if head.isdigit() or head in "+-*":
            cost = int(line.split()[1]) if len(line.split()) > 1 else 0
            if after_calls:
                called[current] = called.get(current, 0) + cost
                after_calls = False
            else:
                self_cost[current] = self_cost.get(current, 0) + cost
        elif line.startswith(("ob=", "cob=")):  # an object's name is defined where it first appears
            match = re.match(r"c?ob=\((\d+)\)(?: (.*))?", line)
            if match is not None:
                if match.group(2) is not None:
                    objects[match.group(1)] = Path(match.group(2)).name.split(".")[0]
                if line[0] == "o":
                    obj = objects.get(match.group(1), "")
        elif line.startswith("fn="):
            current = f"{obj}:{name(line[3:])}"
        elif line.startswith("cfn="):
            name(line[4:])
        elif line.startswith("calls="):
            after_calls = True
    inclusive = {fn: cost + called.get(fn, 0) for fn, cost in self_cost.items()}
    for fn, cost in called.items():
        inclusive.setdefault(fn, cost)
    return self_cost, inclusive


GROUPS: tuple[tuple[str, str], ...] = (
    # (group, a regular expression over "object:function"), first match wins
    ("bytecodes: the interpreter's loop", r"_PyEval_EvalFrameDefault"),
    ("garbage collector", r":(gc_|visit_|.*_traverse$|subtract_refs|update_refs|move_unreachable|deduce_unreachable)"),
    (
        "allocation, deallocation",
        r"(?i)(malloc|_free$|free_|dealloc|_Py_Dealloc|memset|pymalloc|freelist|_alloc$|clear_slots)",
    ),
    (
        "calls and frames",
        r"(Vectorcall|vectorcall|_PyFrame_|initialize_locals|FramePush|MakeTpCall|_PyObject_Call|method_|call_|"
        r"Push|_PyEval_Vector)",
    ),
    ("attribute, dict and type look-ups", r"(?i)(lookup|getattr|setattr|dict|insert|_PyType_|slot_|descr)"),
    ("regular expressions", r"(sre|pattern_|_sre)"),
    (
        "str, bytes, numbers",
        r"(?i)(unicode|bytes|long_|float|dtoa|format|str_|_Py_string|ascii|utf8|memcpy|memmove|strlen)",
    ),
    ("aiohttp (its C writer and parser)", r"^_http_|^_helpers|aiohttp"),
    (
        "multidict, yarl, propcache, frozenlist",
        r"^(multidict|_multidict|yarl|_quoting|propcache|frozenlist|_frozenlist)",
    ),
    ("orjson", r"^orjson"),
    ("uvloop and the kernel's calls", r"^(loop|uvloop|libuv|libc)"),
    ("tuples, lists, iterators, the rest", r""),
)
"""The self costs put in groups (every function in one): the groups add up to the whole difference."""


def grouped(costs: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for function, cost in costs.items():
        group = next(g for g, pattern in GROUPS if re.search(pattern, function))
        out[group] = out.get(group, 0) + cost
    return out


def total(dump: Path) -> int:
    match = re.search(r"^(?:summary|totals):\s+(\d+)", dump.read_text(), re.M)
    if match is None:
        raise RuntimeError(f"no total in {dump}")
    return int(match.group(1))


def measure(name: str, workdir: Path, upstream: int, args: argparse.Namespace) -> Path:
    """The dump of ``--requests`` requests served by variant ``name`` after ``--warm`` uncounted ones."""
    policy_variant, env_extra = variant_env(name, upstream)
    ports = workdir / f"{name}.ports"
    command, env = sidecar_command(sidecar_policy(workdir, upstream, policy_variant), ports, env_extra)
    if args.code is not None:
        env["PYTHONPATH"] = f"{args.code}{os.pathsep}{env.get('PYTHONPATH', '')}"
    out = workdir / f"callgrind-{name}"
    env |= {"OTEL_METRIC_EXPORT_INTERVAL": "3600000", "SIDECAR_RELOAD_INTERVAL_S": "3600"}
    with (workdir / f"callgrind-{name}.txt").open("w") as log:
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--dump-instr=no", f"--callgrind-out-file={out}", *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=args.code,
        )
        try:
            port = wait_port(ports, proc, timeout=args.ready_timeout)
            wait_http(f"http://127.0.0.1:{port}/readyz", timeout=args.ready_timeout)
            send(port, args.warm)
            dumped(proc.pid, out, 1)
            send(port, args.requests)
            dump = dumped(proc.pid, out, 2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=300)
    return dump


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=100)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--variants", default="sidecar,sidecar-routing-20", help="plain,routed")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--code", type=Path, default=None)
    parser.add_argument("--ready-timeout", type=float, default=900)
    parser.add_argument("--dumps", nargs=2, type=Path, help="the plain and routed dumps of an earlier run: only read")
    args = parser.parse_args()
    if args.dumps:
        report(*args.dumps, args, "")
        return 0
    if not tools_present("nginx", "valgrind", "callgrind_control"):
        return 2
    plain_name, routed_name = args.variants.split(",")
    workdir = Path(tempfile.mkdtemp(prefix="routing-callgrind-"))
    started = time.strftime("%Y-%m-%d %H:%M")
    with nginx_running(workdir) as upstream:
        plain, routed = (measure(name, workdir, upstream, args) for name in (plain_name, routed_name))
    report(plain, routed, args, f" ({started} to {time.strftime('%H:%M')})")
    return 0


def report(plain: Path, routed: Path, args: argparse.Namespace, when: str) -> None:
    """The tables: the whole difference, by group (self costs), by function (self, inclusive)."""
    plain_name, routed_name = args.variants.split(",")
    n = args.requests
    print(
        f"Command: `python bench/routing_callgrind.py --warm {args.warm} --requests {n} --variants {args.variants}"
        + (f" --code {args.code}" if args.code else "")
        + f"`{when}\n"
    )
    whole = (total(routed) - total(plain)) / n
    print(f"per request: {plain_name} {total(plain) / n:,.0f}, {routed_name} {total(routed) / n:,.0f}, +{whole:,.0f}\n")
    plain_costs, routed_costs = by_function(plain), by_function(routed)
    base_groups, more_groups = grouped(plain_costs[0]), grouped(routed_costs[0])
    print(f"| group (self costs) | {plain_name} | {routed_name} | routed - plain |\n|---|---|---|---|")
    for group, _ in GROUPS:
        b, m = base_groups.get(group, 0) / n, more_groups.get(group, 0) / n
        print(f"| {group} | {b:,.0f} | {m:,.0f} | {m - b:+,.0f} |")
    print()
    for inclusive in (False, True):
        base, more = plain_costs[inclusive], routed_costs[inclusive]
        diff = {k: (more.get(k, 0) - base.get(k, 0)) / n for k in base.keys() | more.keys()}
        kind = "inclusive" if inclusive else "self"
        print(f"| C function ({kind}) | {plain_name} | {routed_name} | routed - plain |\n|---|---|---|---|")
        for name, delta in sorted(diff.items(), key=lambda kv: -abs(kv[1]))[: args.top]:
            print(f"| `{name}` | {base.get(name, 0) / n:,.0f} | {more.get(name, 0) / n:,.0f} | {delta:+,.0f} |")
        print(f"\n(rows: {len(diff)}; the self column's differences add up to {sum(diff.values()):+,.0f})\n")
    print(f"dumps: {plain} {routed}\n")


if __name__ == "__main__":
    sys.exit(main())
