"""CPU instructions of the cache's per-request pieces that a Redis hit and a key add, counted by valgrind
in one process per tree, for trees side by side (each a ``git archive`` snapshot put first on the path).

    python bench/cache_lookup_instructions.py --trees /tmp/base,/tmp/mine [--few 2000] [--many 12000]

Each tree runs ``valgrind --tool=cachegrind`` twice, doing ``--few`` and then ``--many`` rounds; the
difference of the totals over the difference of the rounds is one round's cost, for each piece:

- ``unframe``: reading a Redis value (a 2,000-character answer's entry framed with its whole OpenAI
  body, about 4.5 KB: what a Redis hit decodes; checked as an OpenAI caller's answer where the tree's
  ``unframe`` takes the caller's dialect);
- ``key openai`` / ``key anthropic``: ``RouteCache.key`` of a chat request (the Anthropic one with the
  ``anthropic-version`` header its SDK sends, where the tree's ``key`` takes headers).
"""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

PIECES = ("unframe", "key openai", "key anthropic")


def inner(piece: str, rounds: int) -> None:
    """Do ``piece`` ``rounds`` times (run under valgrind by ``main``)."""
    from sidecar.cache import RouteCacheSpec
    from sidecar.cache.entry import Entry, TextPiece, encode, frame, unframe
    from sidecar.cache.plan import route_cache
    from sidecar.cache.replay import body_template
    from sidecar.dialects import Dialect, Operation
    from sidecar.policy import load_policy_bytes
    from sidecar.translate.common import FinishReason, Usage

    text = ("lorem ipsum dolor sit amet " * 80)[:2000]
    entry = Entry((TextPiece(text),), FinishReason.STOP, None, Usage(30, 400), "m", "t", "p", 1.7e9, 0.001)
    value = frame(encode(entry), body_template(entry, Dialect.OPENAI))
    policy = load_policy_bytes(
        b"providers: {p: {dialect: openai, base_url: 'https://x/v1'}}\n"
        b"models: {m: {provider: p, model: up}}\nroutes: [{name: r, match: {model: m}, target: m}]\n",
        "bench.yaml",
    )
    plan = route_cache("r", policy.routes[0].chain, "error", RouteCacheSpec(enabled=True))
    assert plan is not None
    body = {"model": "m", "temperature": 0, "messages": [{"role": "user", "content": text[:300]}]}
    arguments: dict[str, Any] = {
        "dialect": Dialect.ANTHROPIC if piece == "key anthropic" else Dialect.OPENAI,
        "operation": Operation.CHAT,
        "model": "m",
        "body": body,
        "raw": b"",
        "deployment_app": "a",
        "app": "a",
        "caller_key": None,
    }
    if "headers" in inspect.signature(plan.key).parameters:  # a tree whose key reads the headers
        arguments["headers"] = {"anthropic-version": "2023-06-01"}
    key = partial(plan.key, **arguments)  # one call shape in every tree
    read = partial(unframe, value)
    if "dialect" in inspect.signature(unframe).parameters:  # a tree that checks the body as the caller's answer
        read = partial(unframe, value, Dialect.OPENAI)
    for _ in range(rounds):
        if piece == "unframe":
            read()
        else:
            key()


def instructions(tree: Path, piece: str, rounds: int) -> int:
    """Total instructions of one process doing ``piece`` ``rounds`` times with ``tree``'s package."""
    with tempfile.NamedTemporaryFile(suffix=".cg") as out:
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
        command = [sys.executable, __file__, "--inner", piece, "--rounds", str(rounds)]
        subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out.name}", *command],
            env=env,
            cwd=tree,
            check=True,
            capture_output=True,
        )
        for line in Path(out.name).read_text().splitlines():
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError("no summary line in cachegrind's output")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trees", help="comma-separated snapshot directories, each with a sidecar/ package")
    parser.add_argument("--few", type=int, default=2000)
    parser.add_argument("--many", type=int, default=12000)
    parser.add_argument("--inner", choices=PIECES)
    parser.add_argument("--rounds", type=int, default=0)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.rounds)
        return 0
    trees = [Path(t) for t in (args.trees or "").split(",") if t]
    print("| piece | " + " | ".join(str(t) for t in trees) + " |")
    print("|---|" + "---|" * len(trees))
    for piece in PIECES:
        costs = []
        for tree in trees:
            few, many = instructions(tree, piece, args.few), instructions(tree, piece, args.many)
            costs.append((many - few) / (args.many - args.few))
        print(f"| {piece} | " + " | ".join(f"{c:,.0f}" for c in costs) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
