"""CPU instructions of one chat request's translation, counted by valgrind (deterministic).

``translate_request`` runs once per translated request on the event loop: the source dialect's parser
reads the caller's body into the common form, the target's builder writes the upstream's body. This
runs exactly that, in one process, ``--few`` and then ``--many`` times for one pair, under
``valgrind --tool=cachegrind``; the difference of the two totals divided by the difference of the counts
is one translation's cost, start-up cancelled out. The request is translate_cost.py's ~1.7 KB OpenAI
conversation (a system prompt, turns, a tool call and its result, two tools, sampling), and for the
other sources the same conversation as that dialect writes it (translated once, before counting); the
source ``responses`` is the same conversation as an OpenAI Responses API request (``responses_body``:
``instructions``, ``input`` items, flat function tools), translated as ``translate_request`` translates
one for an Anthropic or Gemini target (``Operation.RESPONSES``).
Repeated runs agree within a few instructions; timed numbers (translate_cost.py) move with the load.

    python bench/translate_instructions.py [--pairs openai-gemini,responses-anthropic,...] [--few 20] [--many 420]
        [--baseline REF]

``--baseline REF`` counts the ``sidecar`` package at git revision REF too (the same requests, from this
tree's bench). Needs valgrind.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from counted_runs import report
from measuring import tools_present

PAIRS = (
    "openai-anthropic",
    "openai-gemini",
    "anthropic-openai",
    "anthropic-gemini",
    "gemini-openai",
    "gemini-anthropic",
    "responses-anthropic",
    "responses-gemini",
)


def responses_body(chat: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI chat request ``chat`` as the same conversation's Responses API request: the system
    prompt as ``instructions``, each turn an ``input`` item (a call and its result ``function_call`` and
    ``function_call_output``), the tools flat, ``max_tokens`` as ``max_output_tokens``."""
    system, *turns = chat["messages"]
    items: list[dict[str, Any]] = []
    for turn in turns:
        if turn["role"] == "tool":
            items.append({"type": "function_call_output", "call_id": turn["tool_call_id"], "output": turn["content"]})
        elif turn.get("tool_calls"):
            items += [
                {"type": "function_call", "call_id": c["id"], **{k: c["function"][k] for k in ("name", "arguments")}}
                for c in turn["tool_calls"]
            ]
        else:
            items.append({"role": turn["role"], "content": turn["content"]})
    return {
        "model": chat["model"],
        "instructions": system["content"],
        "input": items,
        "tools": [{"type": "function", **tool["function"]} for tool in chat["tools"]],
        "temperature": chat["temperature"],
        "max_output_tokens": chat["max_tokens"],
    }


def translate_requests(source: str, target: str, count: int) -> None:
    """Translate the request from ``source`` to ``target`` ``count`` times (the counted run)."""
    from sidecar.dialects import Dialect, Operation
    from sidecar.translate import TranslateOptions, translate_request

    options = TranslateOptions(unsupported="drop")
    # after the package: translate_cost puts this tree first on the path, which would shadow a baseline's
    from translate_cost import BODY

    import sidecar

    measured = Path(sidecar.__file__).resolve().parent.parent
    if measured != Path(os.environ["PYTHONPATH"].split(os.pathsep)[0]).resolve():
        raise SystemExit(f"the sidecar package counted is {measured}'s, not the one asked for")

    def translated(body: dict[str, Any], src: str, tgt: str) -> dict[str, Any]:
        responses = src == "responses"
        out, _, _ = translate_request(
            body,
            source=Dialect.OPENAI if responses else Dialect(src),
            target=Dialect(tgt),
            operation=Operation.RESPONSES if responses else Operation.CHAT,
            target_model="m",
            options=options,
        )
        return out

    if source == "responses":
        body = responses_body(BODY)
    else:
        body = BODY if source == "openai" else translated(BODY, "openai", source)
    for _ in range(count):
        translated(body, source, target)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--pairs", default=",".join(PAIRS))
    parser.add_argument("--few", type=int, default=20)
    parser.add_argument("--many", type=int, default=420)
    parser.add_argument("--baseline", default="")
    args = parser.parse_args()
    if args.run:
        source, target = args.run[0].split("-")
        translate_requests(source, target, int(args.run[1]))
        return 0
    if not tools_present("valgrind"):
        return 2
    pairs = args.pairs.split(",")
    print(report(__file__, "pair (source-target)", "request", pairs, args.baseline, args.few, args.many))
    return 0


if __name__ == "__main__":
    sys.exit(main())
