"""What routing decides and reports for a corpus of requests on the example routing policy and variants
of it: the outputs ``test_decisions_recorded`` compares with those recorded in
``data/decisions.json`` (recorded at ``7fd35dd``).

Run as a script to record them (``python tests/routing/decision_corpus.py OUT``) with the ``sidecar``
package of the commit whose outputs are the reference on ``PYTHONPATH``: the test never imports that
package, it reads the file.

Each policy: ``policies/routing.yaml`` as shipped; with long-context prices on two models and a small
context window on one (tiered prices, a window the estimate passes); with a route of a shortlist of one
priced model per tier (the chain made at load). Each request: a task by rule, by the trusted header, by
default; each complexity; each capability a candidate may lack; prompts below and above context windows
and the long-context threshold; with and without max tokens, a split's sticky key.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "policies" / "routing.yaml"
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}


def policies() -> dict[str, str]:
    """Policy texts by name: the example and its variants."""
    text = EXAMPLE.read_text()
    tiered = yaml.safe_load(text)
    long_context = {"above_input_tokens": 200000, "input_per_mtok": 2.5, "output_per_mtok": 15.0}
    tiered["models"]["gemini-pro"]["price"]["long_context"] = long_context
    tiered["models"]["gpt-4.1-mini"]["price"]["long_context"] = {**long_context, "above_input_tokens": 50000}
    tiered["models"]["gpt-4o-mini"]["context_window"] = 8000
    fixed = yaml.safe_load(text)
    fixed["routes"][-1]["target"]["from"] = ["gpt-4o-mini", "claude-sonnet", "gpt-4.1-mini"]
    fixed["models"]["gpt-4.1-mini"].pop("price")
    fixed["models"]["gpt-4o-mini"]["quality"] = {"tier": "economy", "tasks": {"code": "premium"}}
    return {"example": text, "tiered": yaml.safe_dump(tiered), "fixed": yaml.safe_dump(fixed)}


def bodies() -> list[tuple[str, dict[str, Any], dict[str, str], str]]:
    """(name, OpenAI chat body, headers, app) of each request of the corpus."""
    texts = {
        "short": "hi there",
        "code": "Fix this python function: def f(x): return x +",
        "extract": "Extract the invoice number from: INV-2231 dated May 3.",
        "prove": "Prove that the square root of 2 is irrational, step by step.",
        "power": "What is 3^(x+1) when x is 2?",
        "how-many": "How many apples are left if I have 12 and eat 5?",
        "translate": "Translate into French: the weather is nice today and I would like a coffee.",
        "medium": "Tell me about the history of the printing press. " * 4,
        "long-9k": "word " * 9_000,
        "long-60k": "lorem ipsum dolor " * 20_000,
        "long-240k": "lorem ipsum dolor sit " * 60_000,
    }
    extras: dict[str, dict[str, Any]] = {
        "plain": {},
        "max-50": {"max_tokens": 50},
        "max-9000": {"max_tokens": 9000},
        "tools": {"tools": [TOOL]},
        "stream": {"stream": True},
        "schema": {"response_format": SCHEMA},
        "json-mode": {"response_format": {"type": "json_object"}},
        "thinking": {"reasoning_effort": "high"},
    }
    corpus: list[tuple[str, dict[str, Any], dict[str, str], str]] = []
    for text_name, text in texts.items():
        for extra_name, extra in extras.items():
            body = {"model": "auto", "messages": [{"role": "user", "content": text}], **extra}
            corpus.append((f"{text_name}/{extra_name}", body, {}, ""))
    for media_name, part in (("image", IMAGE), ("audio", AUDIO)):
        content = [{"type": "text", "text": texts["extract"]}, part]
        corpus.append(
            (f"extract/{media_name}", {"model": "auto", "messages": [{"role": "user", "content": content}]}, {}, "")
        )
    system = [{"role": "system", "content": "You are a careful assistant."}]
    for header_task in ("extraction", "math", "no-such-class"):
        body = {"model": "auto", "messages": [*system, {"role": "user", "content": texts["short"]}]}
        corpus.append((f"header-{header_task}", body, {"x-sidecar-task": header_task}, ""))
    for user in ("u1", "u2", "u3", "u4"):  # the canary split, by its sticky key
        body = {"model": "auto", "messages": [{"role": "user", "content": texts["prove"]}]}
        corpus.append((f"split-{user}", body, {"x-user-id": user}, "checkout"))
    return corpus


def outcome(policy: Any, name: str, body: dict[str, Any], headers: dict[str, str], app: str) -> dict[str, Any]:
    """What routing decided and reports for one request: the route, the decision with its headers and
    access-line fields, the chain, the expected output, each target's expected cost, the answer's
    routing headers on the chain's first target, the access line's features; or the error."""
    from sidecar.request_facts import describe_request
    from sidecar.routing.record import expected_cost
    from sidecar.routing.report import add_answer_headers, logged_features
    from sidecar.routing.stage import apply_routing
    from sidecar.server.errors import RequestFailed

    facts = describe_request("/v1/chat/completions", headers, {}, body, app=app)
    route = policy.route(facts)
    result: dict[str, Any] = {"request": name, "route": None if route is None else route.name}
    if route is None:
        return result
    try:
        record = apply_routing(facts, policy.router, route)
    except RequestFailed as failed:
        result["error"] = [failed.status, str(failed)]
        return result
    if record is None:
        return result
    decision = record.decision
    if decision is not None:
        result["decision"] = {
            "task": [decision.task.label, decision.task.source, decision.task.rule],
            "complexity": [decision.complexity.label, decision.complexity.source, decision.complexity.rule],
            "tier": decision.tier,
            "escalated_from": decision.escalated_from,
            "output_tokens": decision.output_tokens,
            "headers": dict(decision.headers),
            "fields": dict(decision.fields),
        }
    chain = record.targets if record.targets is not None else ()
    if record.arm is not None:
        chain = route.plan.by_name[record.arm].chain
    result.update(
        chain=[t.name for t in chain],
        arm=record.arm,
        capped_to=record.capped_to,
        output_tokens=record.output_tokens,
        costs=[expected_cost(facts, record, t) for t in chain],
        features=logged_features(facts.features),
    )
    answer: dict[str, str] = {}
    record.estimated_for = None
    add_answer_headers(answer, facts, record, chain[0] if chain else None)
    result["answer_headers"] = answer
    return result


def record_all() -> list[dict[str, Any]]:
    """Every policy's outcome of every request of the corpus."""
    import tempfile

    from sidecar.policy.load import load_policy

    outcomes = []
    with tempfile.TemporaryDirectory() as directory:
        for policy_name, text in policies().items():
            path = Path(directory) / f"{policy_name}.yaml"
            path.write_text(text)
            policy = load_policy(path)
            for name, body, headers, app in bodies():
                outcomes.append({"policy": policy_name, **outcome(policy, name, body, headers, app)})
    return outcomes


if __name__ == "__main__":
    import json

    lines = [json.dumps(outcome, sort_keys=True) for outcome in record_all()]
    Path(sys.argv[1]).write_text("[\n" + ",\n".join(lines) + "\n]\n")
