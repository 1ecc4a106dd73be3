"""What routing costs per request: features + rules + learned model, for an 8,000-token and a 300-byte prompt.

    python bench/routing_cost.py [--rounds 5] [--no-gc]

Targets (issue 19): at most 0.2 ms at p99 for an 8,000-token prompt, at most 0.05 ms for a 300-byte one.
Each stage is timed cumulatively on the same parsed body (the sidecar parses the body anyway):
``extract_features`` alone; then plus ``Router.decide`` with the rules of
``bench/data/routing_rules.yaml`` (6 classes, 3 levels, about 230 keywords and 12 regexes); then the
same rules plus a learned router trained on 1,500 templated prompts (decides when no rule matched).
Every timed call is one request's full decision. The thread's CPU time per call is the cost routing
adds; wall-clock time also counts the moments the shared machine's scheduler gives the core to
another process, so its p99 measures the machine as much as the code (both are printed). Rounds
alternate the stages so that noise falls on all of them alike; the table gives medians over rounds.
Before timing, the heap is settled as the sidecar settles its own at start (``gc.freeze``). The table
also gives the share of calls a garbage collection fell into (counted with ``gc.callbacks``) and the
CPU p99 of the calls without one: when the p99 stands far above the p50, that tells a collection's
pause from the code's own cost (``--no-gc`` disables the collector, as a diagnostic only).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import quicktok
import yaml

from sidecar.dialects import Dialect, Operation
from sidecar.routing.features import extract_features
from sidecar.routing.learned.labeled import parse_line
from sidecar.routing.learned.train import fit
from sidecar.routing.matrix import routing_from_document

sys.path.insert(0, str(Path(__file__).resolve().parent))
from routing_data import training_examples

ROOT = Path(__file__).resolve().parent.parent
TASKS = ("extraction", "classification", "translation", "chat", "summarization", "code", "math")
O200K = quicktok.get_encoding("o200k_base")


def long_body() -> dict[str, Any]:
    """System prompt + a pasted document of docs/*.md prose + a question: 8,000 o200k tokens in all."""
    prose = "\n\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))
    ids = O200K.encode_ordinary(prose)[:7950]
    document = O200K.decode(ids)
    system = "You are an assistant for SREs. Answer from the document; say when it does not say."
    question = "\n\nQuestion: which settings control how long a request may take, and what are their defaults?"
    return {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": document + question}],
    }


NEUTRAL = (
    "The river bends twice before it reaches the old mill, and the path beside it is lined with willows. "
    "In spring the water runs high and brown; by late summer it is clear enough to see the stones. "
    "Walkers often stop at the bridge, where a bench looks over the meadow and the hills beyond. "
    "The village keeps a small museum about the mill, open on weekends, with tools and photographs. "
)


def neutral_body() -> dict[str, Any]:
    """8,000 tokens that no rule of routing_rules.yaml matches: every rule runs, then the model decides."""
    text = NEUTRAL * (8000 // len(O200K.encode_ordinary(NEUTRAL)))
    question = "\n\nWould you walk this path in autumn, and why?"
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text + question}]}


def short_body() -> dict[str, Any]:
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {
                "role": "user",
                "content": (
                    "Classify this ticket as billing, bug or feature request: "
                    "'I was charged twice for my March invoice, please refund.'"
                ),
            }
        ],
        "max_tokens": 20,
    }
    return body


class Collections:
    """Counts the collector's runs (``gc.callbacks``), to tell the calls a collection fell into."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.count += 1


COLLECTIONS = Collections()


def timings(call: Callable[[], object], n: int) -> tuple[float, ...]:
    """p50 and p99 of the thread's CPU time per call, then of the wall-clock time, in microseconds; then
    the share of calls a garbage collection fell into (percent) and the CPU p99 of the other calls."""
    cpu, wall, quiet = [], [], []
    collected = 0
    cpu_clock, wall_clock = time.thread_time_ns, time.perf_counter_ns
    for _ in range(n):
        before = COLLECTIONS.count
        start_cpu, start_wall = cpu_clock(), wall_clock()
        call()
        wall.append(wall_clock() - start_wall)
        spent = cpu_clock() - start_cpu
        cpu.append(spent)
        if COLLECTIONS.count == before:
            quiet.append(spent)
        else:
            collected += 1
    cpu.sort()
    wall.sort()
    quiet.sort()
    p50, p99 = len(cpu) // 2, int(len(cpu) * 0.99)
    quiet_p99 = quiet[int(len(quiet) * 0.99)] / 1000 if quiet else 0.0
    return cpu[p50] / 1000, cpu[p99] / 1000, wall[p50] / 1000, wall[p99] / 1000, 100 * collected / n, quiet_p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-gc", action="store_true", help="disable the garbage collector (a diagnostic)")
    args = parser.parse_args()
    rules_doc = yaml.safe_load((ROOT / "bench" / "data" / "routing_rules.yaml").read_text())
    training = [parse_line(orjson.dumps(r), i) for i, r in enumerate(training_examples(1500, seed=0), 1)]
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "router.json"
        model.write_bytes(orjson.dumps(fit(training)))
        learned = {"file": str(model), "min_confidence": 0.7}
        rules = routing_from_document(rules_doc, base_dir=ROOT)
        combined = routing_from_document({"routing": {**rules_doc["routing"], "learned": learned}}, base_dir=ROOT)
        model_only = routing_from_document(
            {"routing": {"classes": [{"name": h} for h in TASKS], "learned": learned}}, base_dir=ROOT
        )
    bodies = {
        "8,000 tokens, docs (rules decide)": long_body(),
        "8,000 tokens, no rule matches (worst case)": neutral_body(),
        "300-byte prompt": short_body(),
    }
    for name, body in bodies.items():
        size = len(orjson.dumps(body))
        real = sum(len(O200K.encode_ordinary(m["content"])) for m in body["messages"])
        estimated = extract_features(body, Dialect.OPENAI, Operation.CHAT).prompt_tokens
        decision = combined.decide(extract_features(body, Dialect.OPENAI, Operation.CHAT))
        print(
            f"{name}: {size:,} bytes of JSON, {real:,} o200k tokens of text, estimated {estimated:,} prompt tokens; "
            f"task by {decision.task.source}, complexity by {decision.complexity.source}"
        )
    print()

    def stages(body: dict[str, Any]) -> dict[str, Callable[[], object]]:
        def features() -> object:
            return extract_features(body, Dialect.OPENAI, Operation.CHAT)

        return {
            "features": features,
            "features + rules": lambda: rules.decide(extract_features(body, Dialect.OPENAI, Operation.CHAT)),
            "features + learned model (decides both labels)": lambda: model_only.decide(
                extract_features(body, Dialect.OPENAI, Operation.CHAT)
            ),
            "features + rules + learned model": lambda: combined.decide(
                extract_features(body, Dialect.OPENAI, Operation.CHAT)
            ),
        }

    # As the sidecar does once started (``server.lifecycle.settle_heap``): what lives as long as the process
    # (imports, the routers, the bodies) out of the collector's reach, so that a timed call's collections
    # walk the requests' own objects, not the bench's imports (which the sidecar's heap does not hold).
    gc.collect()
    gc.freeze()
    gc.callbacks.append(COLLECTIONS)
    if args.no_gc:  # a diagnostic: the p99 without the collector's pauses (the sidecar keeps it on)
        gc.disable()
    print(
        "| prompt | stage | CPU p50 (us) | CPU p99 (us) | wall p50 (us) | wall p99 (us) "
        "| calls with a collection | CPU p99 without (us) | target p99 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, body in bodies.items():
        long = name.startswith("8")
        n = 3000 if long else 20000
        results: dict[str, list[tuple[float, float, float, float]]] = {}
        for _ in range(args.rounds):
            for stage, call in stages(body).items():
                gc.collect()
                results.setdefault(stage, []).append(timings(call, n))
        target = "200" if long else "50"
        for stage, rounds in results.items():
            cells = " | ".join(f"{statistics.median(r[i] for r in rounds):.1f}" for i in range(6))
            print(f"| {name} | {stage} | {cells} | {target if 'learned' in stage else ''} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
