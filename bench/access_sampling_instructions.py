"""Instructions of the access line's sampling decision (the policy's ``access_log`` block), counted by valgrind.

Each case runs in a child ``python -OO`` under ``valgrind --tool=cachegrind --cache-sim=no``, once with 0 and
once with ``--loops`` iterations; the difference over the loops is one iteration's cost, start-up cancelled:

- ``decide-0``: ``AccessSampling.weight`` for a plain success at ``sample: 0`` and the sampled-out counter's
  increment (what ``AccessLog.record`` does instead of building the line);
- ``decide-0.1``: the same at ``sample: 0.1`` (a random draw; the counter counts the nine in ten left out);
- ``default-added``: the default path's added work (no block: the policy's ``access_sampling`` read, its
  ``None`` test, the weight test), minus the same function without it.

The request is a stand-in with the attributes the decision reads (``types.SimpleNamespace``: attribute reads
are dict look-ups, about what a slotted ``Exchange``'s are), so the figures are the decision's, not the
sidecar's. The whole request's saving is ``bench/instructions.py``'s ``sidecar-access-sample-0`` variant.

    python bench/access_sampling_instructions.py [--loops 20000]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from types import SimpleNamespace

from measuring import tools_present


def plain_success() -> SimpleNamespace:
    """A request answered 200 on its first try: what the bulk of the access lines are."""
    return SimpleNamespace(
        route=SimpleNamespace(name="bench"),
        stream_error=None,
        drain_cut=False,
        degraded=None,
        fallback_reason=None,
        budget=None,
        cache=None,
        attempts=[SimpleNamespace(outcome="ok")],
        trace=SimpleNamespace(trace_id=""),
        request_id="0123456789abcdef",
        policy=SimpleNamespace(access_sampling=None),
    )


def run_case(case: str, loops: int) -> None:
    """The child: ``loops`` iterations of ``case``."""
    from sidecar.policy.access_log import AccessLogSpec, compile_access_sampling
    from sidecar.telemetry.metrics import Counter, Spec, new_registry

    exchange = plain_success()
    if case.startswith("decide-"):
        sampling = compile_access_sampling(AccessLogSpec(sample=float(case.removeprefix("decide-"))), {})
        assert sampling is not None
        counter = Counter(Spec("x_total", "x", ("route",), "x", ("route",), "1"), new_registry(), None)
        weight = sampling.weight
        for _ in range(loops):
            if weight(exchange, 200, 1.0) is None:  # type: ignore[arg-type]
                counter.inc(("bench",), 1)
        return
    fields: dict[str, float] = {}

    def added(exchange: SimpleNamespace, fields: dict[str, float]) -> None:
        weight = 1.0
        sampling = exchange.policy.access_sampling
        if sampling is not None:
            return
        if weight < 1.0:
            fields["sample_rate"] = weight

    def empty(exchange: SimpleNamespace, fields: dict[str, float]) -> None:
        pass

    call = added if case == "default-added" else empty
    for _ in range(loops):
        call(exchange, fields)


def count(case: str, loops: int) -> int:
    """Instructions of a child running ``case`` ``loops`` times, start to exit."""
    result = subprocess.run(
        [
            *("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"),
            *(sys.executable, "-OO", __file__, "--child", case, "--loops", str(loops)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    refs = re.search(r"I\s+refs:\s+([\d,]+)", result.stderr)
    assert refs is not None, result.stderr
    return int(refs.group(1).replace(",", ""))


def per_loop(case: str, loops: int) -> float:
    return (count(case, loops) - count(case, 0)) / loops


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loops", type=int, default=20000)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        run_case(args.child, args.loops)
        return 0
    if not tools_present("valgrind"):
        return 2
    decide_0, decide_01 = per_loop("decide-0", args.loops), per_loop("decide-0.1", args.loops)
    added = per_loop("default-added", args.loops) - per_loop("default-empty", args.loops)
    print(f"Command: `python bench/access_sampling_instructions.py --loops {args.loops}`")
    print("| case | instructions |\n|---|---|")
    print(f"| decision + counter, plain success, sample 0 | {decide_0:,.0f} |")
    print(f"| decision + counter, plain success, sample 0.1 | {decide_01:,.0f} |")
    print(f"| default path's added work (no access_log block) | {added:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
