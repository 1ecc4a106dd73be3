"""CPU instructions per call of routing's steps for proxy_bench's request on the routing-20 policy.

The steps of ``sidecar-routing-20`` (``proxy_bench.py``'s bench route as ``{select: cheapest}`` behind 20
classes and 3 levels), run in one process on the request's facts built anew per call, each cumulative:

    facts       ``describe_request`` (what the plain route does too)
    features    + ``RequestFacts.features`` (the dialect's walker, the tally, the token estimate)
    decide      + ``record.decide`` (task and complexity: the policy's ``classify.Classifier``)
    select      + ``SelectPlan.selection`` (the cheapest capable candidates)
    report      + ``report.add_answer_headers`` and the access line's features (``report.logged_features``)

``--pieces`` measures instead each piece of those steps alone (not cumulative), on the same request's
features and decision computed once beforehand: where a step's instructions go, and what a cut of one
piece could at most save (``PIECES``; ``empty`` is a call of nothing, the loop's own cost, included in
every other row).

Each step runs under ``valgrind --tool=cachegrind`` twice (``--few`` and ``--many`` calls, start-up
cancelled out), ``PYTHONHASHSEED=0``. ``--code DIR`` runs another checkout's ``sidecar`` package (e.g.
``git worktree add /tmp/base <ref>``), for a baseline in the same session.

Against the input: ``--prompt-scale N`` sends the request with each message's text N times over (joined
by spaces: the same words, none a keyword of the policy, N times the bytes to walk, estimate and scan);
``--classes N`` routes by routing-20's first N classes, then those of bench/data/routing_more_classes.yaml
(``MORE_CLASSES``: up to 40, each with six keywords and a ``#<name>-\\d+`` regex as routing-20's synthetic
ones), the same three levels. The defaults (1, 20) are routing-20 on proxy_bench's request.

    python bench/routing_instructions.py [--few 200] [--many 2000] [--code DIR] [--pieces [--only a,b]]
        [--prompt-scale 1] [--classes 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from itertools import compress
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
STEPS = ("facts", "features", "decide", "select", "report")
PIECES = (
    "empty",  # a call of nothing: the loop's own cost, in every row
    "walk",  # features.plain_chat: the messages' walk, the windows and the token estimate
    "estimate",  # tokens.estimate_joined on the walk's texts (a part of walk)
    "classify",  # the generated decision function (classify.Classifier.decide) on known features
    "record",  # record.Routed(): the request's routing record, made
    "decide",  # record.decide on known features: the record, the decision function, the expected output
    "chain",  # SelectPlan.chain on a decided request (the usual request's fixed chain)
    "headers",  # report.add_answer_headers on a decided, selected request (the estimate computed anew)
    "logged",  # report.logged_features: the access line's features
    "stage",  # stage.apply_routing on a decided request (its chain asked anew: ``chain`` is a part of it)
    "asked_again",  # SelectPlan.run: the fallback loop asking for the chain the stage chose
    "line",  # orjson.dumps of routing's access-line fields alone (report.line_fields' dict, as written)
    "wire",  # aiohttp's _serialize_headers of a status line and routing's four answer headers
    "wire_none",  # the same with no header: ``wire`` less this is what the four headers cost on the wire
    "metric",  # the routing stage's call of RequestTrace.routed: the decision metric (no span)
    "savings",  # RequestTrace.routing_cost: the two savings counters (no span)
    "access",  # report.add_line_fields (the access line's routing fields, the estimate read back) and their orjson
    "in_line",  # the same written into a line of the 26 fields before them, and the whole line's orjson
)
ACCESS_LINE_FIRST_FIELDS = (
    *("component", "event", "level", "ts", "request_id", "method", "path", "dialect", "operation", "app"),
    *("route", "requested_model", "served_model", "provider", "status", "outcome", "latency_ms", "stream"),
    *("bytes_in", "bytes_out", "attempts", "policy_version", "input_tokens", "output_tokens", "cached_input_tokens"),
    "cost_usd",
)
"""The access line's fields before routing's on proxy_bench's routed request (docs/logs.md's order)."""


MORE_CLASSES = HERE / "data" / "routing_more_classes.yaml"  # 20 classes after routing-20's (``--classes`` above 20)


def bench_inputs(prompt_scale: int, classes: int) -> tuple[Path, bytes]:
    """The policy (routing-20's with its first ``classes`` classes, ``MORE_CLASSES`` after its 20) and the
    request (proxy_bench's with each message's text ``prompt_scale`` times over)."""
    import orjson
    import yaml
    from measuring import REQUEST
    from sidecar_under_test import sidecar_policy

    path = sidecar_policy(Path(tempfile.mkdtemp()), 9, "routing")
    if classes != 20:
        policy = yaml.safe_load(path.read_text())
        found = policy["routing"]["classes"]
        for name, words in yaml.safe_load(MORE_CLASSES.read_text()).items():
            regex = {"regex": f"#{name}-\\d+", "in": ["last_user", "system"]}
            found.append({"name": name, "rules": [{"keywords": words, "in": ["last_user"]}, regex]})
        if not 1 <= classes <= len(found):
            raise SystemExit(f"--classes: 1 to {len(found)}")
        del found[classes:]
        path.write_text(yaml.safe_dump(policy, allow_unicode=True))
    body = orjson.loads(REQUEST)
    for message in body["messages"]:
        message["content"] = " ".join([message["content"]] * prompt_scale)
    return path, orjson.dumps(body)


def bench_route(prompt_scale: int, classes: int) -> tuple[Any, Any, Any, dict[str, str], Callable[[], Any]]:
    """The routing-20 policy (``bench_inputs``) loaded: the policy, its router, the bench request's route (a
    ``SelectPlan``), the request's headers and ``facts``, which describes the request anew at each call
    (imports the ``sidecar`` found on ``sys.path``)."""
    import orjson

    from sidecar.policy.load import load_policy
    from sidecar.request_facts import describe_request
    from sidecar.routing.plans import SelectPlan

    path, sent = bench_inputs(prompt_scale, classes)
    policy = load_policy(path)
    router = policy.router
    assert router is not None
    headers = {"content-type": "application/json", "authorization": "Bearer x"}

    def facts():  # type: ignore[no-untyped-def]
        return describe_request("/v1/chat/completions", headers, {}, orjson.loads(sent), app="bench")

    route = policy.route(facts())
    assert route is not None and isinstance(route.plan, SelectPlan)
    return policy, router, route, headers, facts


def steps(prompt_scale: int = 1, classes: int = 20) -> dict[str, Callable[[], object]]:
    """The cumulative steps, on the routing-20 policy (imports the ``sidecar`` found on ``sys.path``)."""
    from sidecar.routing import report
    from sidecar.routing.record import decide

    policy, router, route, _, facts = bench_route(prompt_scale, classes)
    plan = route.plan
    target = policy.models["bench-model"]
    add_answer_headers = getattr(report, "add_answer_headers", None)
    if add_answer_headers is None:  # a checkout before wave 8 (``--code``): its answer_headers made a dict

        def add_answer_headers(headers, request, record, target):  # type: ignore[no-untyped-def]
            headers.update(report.answer_headers(request, record, target))

    logged_features = getattr(report, "logged_features", None)
    if logged_features is None:  # a checkout before wave 12 (``--code``): ``report.observe`` built it inline

        def logged_features(features):  # type: ignore[no-untyped-def]
            values = report._FEATURE_VALUES(features)
            return dict(compress(zip(report.FEATURE_FIELDS, values), values))  # noqa: B905

    def features() -> None:
        facts().features  # noqa: B018 - computed on first read

    def decided() -> None:
        decide(facts(), router)

    def selected() -> None:
        request = facts()
        decide(request, router)
        plan.chain(request)

    def reported() -> None:
        request = facts()
        decide(request, router)
        plan.chain(request)
        record = request.routing
        assert record is not None
        add_answer_headers({}, request, record, target)
        logged_features(request.features)

    return {"facts": facts, "features": features, "decide": decided, "select": selected, "report": reported}


def pieces(prompt_scale: int = 1, classes: int = 20) -> dict[str, Callable[[], object]]:
    """Each of ``PIECES`` alone, on the request's features and decision computed once beforehand."""
    import orjson

    from sidecar.routing import report
    from sidecar.routing.features import plain_chat
    from sidecar.routing.record import Routed, decide
    from sidecar.routing.tokens import estimate_joined

    policy, router, route, headers, facts = bench_route(prompt_scale, classes)
    request = facts()
    plan, target = route.plan, policy.models["bench-model"]
    body, features = request.body, request.features
    texts = [message["content"] for message in body["messages"] if message.get("content")]
    classify = router.classifier.decide

    def empty() -> None:
        pass

    def decided() -> None:
        request.routing = None
        decide(request, router)

    decided()
    record = request.routing
    assert record is not None
    plan.chain(request)

    def chain() -> None:
        record.targets = None
        plan.chain(request)

    def headers_added() -> None:
        record.estimated_for = None  # the estimate anew, as the answer's headers make it
        report.add_answer_headers({}, request, record, target)

    from aiohttp.http_writer import _serialize_headers
    from multidict import CIMultiDict

    from sidecar.routing.stage import apply_routing

    def staged() -> None:
        record.targets = None
        apply_routing(request, router, route)

    plan.chain(request)

    def asked_again() -> None:
        plan.run(request, tuple)  # ``tuple`` as the walk: the chain it is given, returned

    routing_headers: dict[str, str] = {}
    report.add_answer_headers(routing_headers, request, record, target)
    on_the_wire, none = CIMultiDict(routing_headers), CIMultiDict()
    decision = record.decision
    assert decision is not None
    line_fields = {
        **decision.fields,
        "features": report.logged_features(features),
        "estimated_cost_usd": 0.00012345,
        "requested_model_cost_usd": 0.00023456,
    }

    metric, savings = metric_calls(route, record)
    exchange = SimpleNamespace(facts=request)  # all ``line_fields`` reads of the exchange

    add_line_fields = getattr(report, "add_line_fields", None)
    if add_line_fields is None:  # a checkout before wave 50 (``--code``): ``line_fields`` made a dict of them

        def add_line_fields(fields, exchange, record, served, requested_cost):  # type: ignore[no-untyped-def]
            routing = report.line_fields(exchange, record, served, requested_cost)
            if routing:
                fields.update(routing)

    def access() -> None:
        fields: dict[str, Any] = {}
        add_line_fields(fields, exchange, record, target, 0.00023456)
        orjson.dumps(fields)

    first_fields = dict.fromkeys(ACCESS_LINE_FIRST_FIELDS, "x")  # a line's fields before routing's

    def in_line() -> None:
        fields = first_fields.copy()
        add_line_fields(fields, exchange, record, target, 0.00023456)
        orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)

    return {
        "empty": empty,
        "walk": lambda: plain_chat(body, None),
        "estimate": lambda: estimate_joined(texts),
        "classify": lambda: classify(features, headers),
        "record": Routed,
        "decide": decided,
        "chain": chain,
        "headers": headers_added,
        "logged": lambda: report.logged_features(features),
        "stage": staged,
        "asked_again": asked_again,
        "line": lambda: orjson.dumps(line_fields),
        "wire": lambda: _serialize_headers("HTTP/1.1 200 OK", on_the_wire),
        "wire_none": lambda: _serialize_headers("HTTP/1.1 200 OK", none),
        "metric": metric,
        "savings": savings,
        "access": access,
        "in_line": in_line,
    }


def metric_calls(route: Any, record: Any) -> tuple[Callable[[], object], Callable[[], object]]:
    """The routing stage's call of ``RequestTrace.routed`` on a request of ``route`` decided as ``record``
    says, and ``routing_cost``'s, on a trace without a span (metrics only). A checkout before wave 47
    (``--code``) passes ``routed`` the decision's five labels (its call as the stage made it then)."""
    import inspect

    from sidecar.telemetry.config import TelemetryConfig
    from sidecar.telemetry.facade import Telemetry

    telemetry = Telemetry(TelemetryConfig(), service_version="bench")
    asked = {"method": "POST", "path": "/v1/chat/completions", "headers": {}, "dialect": "openai"}
    trace = telemetry.start_request(**asked, operation="chat", requested_model="bench-model", stream=False)
    by_decision = len(inspect.signature(trace.routed).parameters) == 3

    def metric() -> None:
        if by_decision:
            trace.routed(route.name, record.decision, record.arm)
            return
        decision = record.decision
        task = decision.task
        trace.routed(route.name, task.label, decision.complexity.label, decision.tier, record.arm or "", task.source)

    def savings() -> None:
        trace.routing_cost(route.name, "extraction", 0.0001, 0.0002, None)

    return metric, savings


def count(step: str, calls: int, code: Path | None, inputs: tuple[str, ...] = ()) -> int:
    """Total instructions of a process making ``calls`` calls of ``step``."""
    sys.path.insert(0, str(HERE))
    from instructions import instruction_total

    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if code is not None:
        env["PYTHONPATH"] = f"{code}{os.pathsep}{env.get('PYTHONPATH', '')}"
    command = [sys.executable, str(Path(__file__).resolve()), "--run", step, str(calls), *inputs]
    result = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *command],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=code,
    )
    return instruction_total(result.stderr, step)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--few", type=int, default=200)
    parser.add_argument("--many", type=int, default=2000)
    parser.add_argument("--code", type=Path, default=None, help="a checkout whose sidecar package to run")
    parser.add_argument("--pieces", action="store_true", help="each piece of the steps alone (PIECES)")
    parser.add_argument("--only", default="", help="with --pieces: these pieces only (comma-separated)")
    parser.add_argument("--prompt-scale", type=int, default=1, help="each message's text N times over")
    parser.add_argument("--classes", type=int, default=20, help="the policy's first N classes (1-40)")
    parser.add_argument("--run", nargs=2, metavar=("STEP", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        sys.path.insert(0, str(HERE))
        name = args.run[0]
        inputs = (args.prompt_scale, args.classes)
        call = pieces(*inputs)[name.removeprefix("piece:")] if name.startswith("piece:") else steps(*inputs)[name]
        for _ in range(int(args.run[1])):
            call()
        return 0
    pieces_flag = " --pieces" if args.pieces else ""
    pieces_flag += f" --only {args.only}" if args.only else ""
    inputs = ("--prompt-scale", str(args.prompt_scale), "--classes", str(args.classes))
    pieces_flag += " " + " ".join(inputs) if inputs != ("--prompt-scale", "1", "--classes", "20") else ""
    print(f"Command: `python bench/routing_instructions.py --few {args.few} --many {args.many}{pieces_flag}`", end="")
    print(f" (code: {args.code or 'this checkout'})\n")
    if args.pieces:
        print("| piece (alone) | instructions per call |\n|---|---|")
        for piece in args.only.split(",") if args.only else PIECES:
            few = count(f"piece:{piece}", args.few, args.code, inputs)
            many = count(f"piece:{piece}", args.many, args.code, inputs)
            print(f"| {piece} | {(many - few) // (args.many - args.few):,} |", flush=True)
        return 0
    print("| step (cumulative) | instructions per call |\n|---|---|")
    for step in STEPS:
        few, many = count(step, args.few, args.code, inputs), count(step, args.many, args.code, inputs)
        print(f"| {step} | {(many - few) // (args.many - args.few):,} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
