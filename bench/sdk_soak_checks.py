"""The invariants of ``sdk_soak.py``: per request (``check_requests``: what the client saw, its access
line, the fake providers' request logs) and at the end of each round (``check_end``: reservations,
file descriptors, tasks, RSS, breakers, the error log). Each returns violations as lines of text.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from sdk_soak_calls import REFUSED_BY_THE_SIDECAR, prompt
from sdk_soak_ledger import (
    SAMPLED_ROUTE,
    Uses,
    check_budgets,
    check_pool_breakers,
    check_request_metrics,
    check_sampling,
)
from sdk_soak_usage import check_usage

if TYPE_CHECKING:
    from sdk_soak import Stack
    from sdk_soak_calls import Seen

DEADLINE_S = 6.0
TOTAL_S = 8.0  # a provider call's total_s: a committed stream's bound
MARGIN_S = 3.0  # a loaded machine's slack
CANCEL_GRACE_S = 2.0  # how soon after the client left its upstream call must have ended
LEAVE_SLACK_S = 0.5  # an answer ending this soon after the client left was on its way
TASK_SLACK = 6
SDK_STATUS_ERRORS = frozenset({"status", "stream"})
UNKNOWN_MODEL = {(404, "model_not_found"), (404, "not_found_error"), (404, "NOT_FOUND")}  # docs/api.md, per dialect
# error-level events that are the soak's own doing: a broken policy it wrote
EXPECTED_ERRORS = frozenset({"policy_rejected"})
FAKES = ("f1", "f2", "f3", "f4")  # f4: bench/sdk_soak_scripted.py, with the fake provider's request log


@dataclass(frozen=True)
class Sample:
    rss_mb: float
    fds: int
    tasks: int

    def __str__(self) -> str:
        return f"RSS {self.rss_mb:.1f} MB, {self.fds} fds, {self.tasks} tasks"


def sample(stack: Stack) -> Sample:
    """The sidecar's RSS, open fds and live asyncio tasks (the hook writes them each second: wait 1.2 s)."""
    time.sleep(1.2)
    pid = stack.sidecar.pid
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(status.split("VmRSS:")[1].split()[0])
    tasks = int(stack.tasks_file.read_text()) if stack.tasks_file.exists() else -1
    return Sample(rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd")), tasks)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()  # type: ignore[no-any-return]


def every_access_line(log: Path) -> list[dict[str, Any]]:
    """The access lines of the sidecar's log, in order."""
    lines = []
    for text in log.read_text(errors="replace").splitlines():
        if '"access"' not in text:
            continue
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if line.get("event") == "access":
            lines.append(line)
    return lines


def access_lines(lines: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The access lines by ``x-soak-id``."""
    by_id: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for line in lines:
        soak_id = (line.get("headers") or {}).get("x-soak-id")
        if soak_id:
            by_id[soak_id].append(line)
    return by_id


def fake_records(url: str) -> list[dict[str, Any]]:
    return get_json(url + "/_fake/requests")  # type: ignore[no-any-return]


def check_requests(stack: Stack, seen: list[Seen]) -> list[str]:
    """Every request against its access line and, for those that left, the fakes' records of its calls;
    the sampled route's lines and the request metrics against the lines (bench/sdk_soak_ledger.py)."""
    time.sleep(0.2)  # access lines are flushed within 50 ms
    pods_lines = [every_access_line(log) for log in stack.logs]
    lines = access_lines([line for pod in pods_lines for line in pod])
    records = [record for fake in FAKES for record in fake_records(stack.fake_url(fake))]
    by_id: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for record in records:
        text = json.dumps(record.get("json"))
        start = text.find("soak ")
        if start >= 0:
            by_id[text[start + 5 :].split(":", 1)[0]].append(record)
    violations = []
    for one in seen:
        mine = lines.get(one.plan.soak_id, [])
        sampled_out = one.plan.model == SAMPLED_ROUTE and not mine  # check_sampling's
        problems = check_seen(one) + ([] if sampled_out else check_line(one, mine))
        if one.left_at is not None:
            problems += check_cancelled(one, by_id.get(one.plan.soak_id, []))
        violations += [f"{problem} | {describe(one)}" for problem in problems]
    checked: collections.Counter[str] = collections.Counter()
    violations += [f"{problem} | {describe(one)}" for one, problem in check_usage(seen, lines, checked)]
    print(f"# usage invariants checked: {', '.join(f'{what} {n}' for what, n in checked.items())}")
    metrics = [get_text(url + "/metrics") for url in stack.urls]
    calls = {soak_id: len(mine) for soak_id, mine in by_id.items()}
    violations += check_sampling(seen, lines, calls, metrics[0])  # the sampled route is the first pod's
    for pod, (pod_lines, pod_metrics) in enumerate(zip(pods_lines, metrics, strict=True)):
        violations += [f"pod {pod}: {problem}" for problem in check_request_metrics(pod_lines, pod_metrics)]
        violations += [f"pod {pod}: {problem}" for problem in check_pool_breakers(pod_metrics)]
    return violations


def describe(one: Seen) -> str:
    plan = one.plan
    what = f"{plan.soak_id} {plan.dialect} {plan.model} stream={plan.stream} tools={plan.tools}"
    what += f" fault={plan.fault} leave={plan.leave} raw={plan.raw_path}{plan.raw_body[:40]!r}"
    return what + f" -> status={one.status} error={one.error} type={one.error_type} {one.detail[:200]}"


def round_budgets(stack: Stack, seen: list[Seen], before: Uses, after: Uses, provider_of: dict[str, str]) -> list[str]:
    """The budgets' counting over a round against the round's access lines (bench/sdk_soak_ledger.py)."""
    time.sleep(0.2)  # access lines are flushed within 50 ms
    by_id = access_lines([line for log in stack.logs for line in every_access_line(log)])
    lines = [line for one in seen for line in by_id.get(one.plan.soak_id, ())]
    return check_budgets(before, after, lines, provider_of)


def check_seen(one: Seen) -> list[str]:
    """What the client saw: a parsed answer or an SDK error in its dialect (its times: ``check_times``)."""
    problems = list(one.notes)
    if one.left_at is not None:
        return problems
    if one.error is not None and one.raised not in SDK_STATUS_ERRORS:
        problems.append(f"not an SDK error in the dialect: {one.error}")
    if one.error is not None and one.raised in SDK_STATUS_ERRORS and not one.error_type:
        problems.append("an error without the dialect's error type")
    if one.plan.dialect == "raw":
        refused = one.plan.raw_body in REFUSED_BY_THE_SIDECAR
        if refused and (one.status is None or not 400 <= one.status < 500):
            problems.append(f"a malformed body answered {one.status}, not a 4xx")
        return problems
    if one.plan.model.startswith("unknown-") and (one.status, one.error_type) not in UNKNOWN_MODEL:
        problems.append("an unknown model: not docs/api.md's 404 model_not_found in the dialect")
    if one.error is None and not one.complete:
        problems.append("an answer without its end (finish reason, message_stop) and without an error")
    empty = one.plan.fault is not None and "empty" in one.plan.fault and not one.text  # Anthropic's content []
    if one.error is None and one.plan.tools and not one.tool_calls and not empty:
        problems.append(f"tools offered, the fake model calls one: no tool call but {one.text!r}")
    if one.error is None and not one.plan.tools and one.text != prompt(one.plan) and not empty:
        problems.append(f"the answer is not the fake model's echo of the prompt: {one.text!r}")
    return problems


def check_times(one: Seen, received_s: float) -> list[str]:
    """The head within the deadline plus a margin, the answer within the deadline and a call's total_s,
    from when the sidecar received the request (``received_s`` after the client sent it: a driver starved
    of CPU sends seconds late, its 64 clients in one process; the wave 27 checker timed from the send)."""
    problems = []
    head_limit = DEADLINE_S + MARGIN_S
    head_s = None if one.head_s is None else one.head_s - max(0.0, received_s)
    if head_s is not None and head_s > head_limit:
        problems.append(f"head after {head_s:.1f} s > {head_limit} s (sent {received_s:.1f} s before received)")
    total = one.ended - one.started - max(0.0, received_s)
    if total > DEADLINE_S + TOTAL_S + MARGIN_S:
        problems.append(f"answer took {total:.1f} s")
    return problems


def check_line(one: Seen, lines: list[dict[str, Any]]) -> list[str]:
    """One access line, agreeing with the client: status, streamed, the model asked."""
    if len(lines) != 1:
        return [f"{len(lines)} access lines"]
    line = lines[0]
    problems = []
    hit = line.get("cache") == "hit"  # replayed whole, perhaps before the client left
    received_s = line["ts"] - line.get("latency_ms", 0) / 1000 - one.started_wall
    if one.left_at is None:
        problems += check_times(one, received_s)
    if line.get("status") == 500 and not any(entry.endswith(":http_500") for entry in line.get("attempt_log", ())):
        problems.append("a 500 that is not a provider's own 500 passed through")
    if one.left_at is None and one.status is not None and line.get("status") != one.status:
        problems.append(f"access status {line.get('status')} != client's {one.status}")
    # its answer was made before the client's connection was closed (``left_at`` is after the close; a driver
    # starved of CPU may close seconds after it decided to leave), or within LEAVE_SLACK_S of it
    answered_first = one.left_at is not None and line["ts"] < one.left_at + LEAVE_SLACK_S
    if one.left_at is not None and one.status is None and line.get("status") != 499 and not answered_first:
        problems.append(
            f"left before the head: access status {line.get('status')}, outcome {line.get('outcome')}, "
            f"its line {line['ts'] - one.left_at:.2f} s after the client left"
        )
    if (
        one.left_at is not None
        and one.status == 200
        and line.get("outcome") != "client_closed"
        and not hit
        and not answered_first
    ):
        problems.append(f"left mid-stream: access outcome {line.get('outcome')}")
    if one.plan.dialect != "raw":
        if bool(line.get("stream")) != one.plan.stream:
            problems.append(f"access stream {line.get('stream')} != {one.plan.stream}")
        if line.get("requested_model") != one.plan.model:
            problems.append(f"access requested_model {line.get('requested_model')} != {one.plan.model}")
        if line.get("status") == 200 and one.error is None and not line.get("served_model"):
            problems.append("a 200 without served_model")
    return problems


def check_cancelled(one: Seen, records: list[dict[str, Any]]) -> list[str]:
    """Each upstream call of a client that left ended within ``CANCEL_GRACE_S`` of it leaving."""
    assert one.left_at is not None
    problems = []
    for record in records:
        ended = record.get("ended")
        if ended is None:
            problems.append(f"upstream call {record['path']} still running after the client left")
        elif ended > one.left_at + CANCEL_GRACE_S:
            late = ended - one.left_at
            problems.append(f"upstream call {record['path']} ended {late:.1f} s after the client left")
    return problems


def check_end(stack: Stack, start: Sample, samples: list[Sample], clean: list[Seen], fd_slack: int) -> list[str]:
    """After a round: clean calls answered, nothing held, fds and tasks back, breakers agreeing with the
    last calls; ``fd_slack``: the fds kept-alive connections may hold over the start)."""
    problems = [
        f"clean call failed: {c.plan.model} {c.plan.dialect}: {c.status} {c.error}"
        for c in clean
        if c.error and not (c.plan.model == "capped" and c.status == 429)  # its requests budget spent
    ]
    problems += held_reservations(stack.ports["redis"])
    problems += [problem for url in stack.urls for problem in pending_settlements(url)]
    end = samples[-1]
    if end.fds > start.fds + fd_slack:
        problems.append(f"open fds {start.fds} -> {end.fds}")
    if end.tasks > start.tasks + TASK_SLACK:
        problems.append(f"live tasks {start.tasks} -> {end.tasks}")
    if len(samples) >= 3 and all(b.rss_mb > a.rss_mb + 2 for a, b in itertools.pairwise(samples[1:])):
        problems.append(f"RSS grows round over round: {[round(s.rss_mb, 1) for s in samples]}")
    problems += [problem for url in stack.urls for problem in check_breakers(get_json(url + "/status"))]
    return problems + check_hits(stack, clean)


def check_breakers(status: dict[str, Any]) -> list[str]:
    """Each breaker agrees with its last calls: open only with failures in its window (at the threshold,
    0.5) or a failed probe. (A success can open one: the call that brings the window to ``minimum_calls``
    makes its rate count, failures of before included. Half-open with no probe out is consistent too: a
    probe released without a verdict, a cancel or a 4xx; the next call probes.)"""
    problems = []
    for name, target in status["targets"].items():
        breaker = target.get("breaker") or {}
        failed = breaker.get("failure_rate", 0) >= 0.5 or breaker.get("probe_failures", 0) > 0
        if breaker.get("state") == "open" and not failed:
            problems.append(f"breaker {name} open without failures: {breaker}")
    return problems


def held_reservations(port: int) -> list[str]:
    """Budget counters in Redis still holding a reservation (``h`` above 0)."""
    problems = []
    with redis.Redis(host="127.0.0.1", port=port) as client:
        for key in client.scan_iter(match="llm-sidecar:{budgets}:c:*"):
            if key.endswith(b":r"):
                continue
            held = client.hget(key, "h")
            if held is not None and float(held) != 0:
                problems.append(f"budget counter {key.decode()} holds {held.decode()}")
    return problems


def pending_settlements(url: str) -> list[str]:
    """Settlements the budgets still owe the shared store (``llm_sidecar_budget_pending_settlements``)."""
    text = get_text(url + "/metrics")
    pending = [line for line in text.splitlines() if line.startswith("llm_sidecar_budget_pending_settlements")]
    return [f"budget settlements still pending: {line}" for line in pending if float(line.rsplit(" ", 1)[1]) != 0]


def check_hits(stack: Stack, clean: list[Seen]) -> list[str]:
    """The settle's last asks of the round's shared prompts (``Plan.billing`` set, the other pod's) are hits:
    the cache key leaves billing fields out, and the pods share the cache's Redis."""
    time.sleep(0.2)  # access lines are flushed within 50 ms
    by_id = access_lines([line for log in stack.logs for line in every_access_line(log)])
    problems = []
    for one in clean:
        found = [line.get("cache") for line in by_id.get(one.plan.soak_id, ())]
        if one.plan.billing and one.plan.shared is not None and found != ["hit"]:
            problems.append(f"a shared prompt asked again was no hit: {one.plan.soak_id} pod {one.plan.pod}: {found}")
    return problems


def error_lines(logs: list[Path]) -> list[str]:
    """Error-level log lines (but the soak's own broken policies) and tracebacks."""
    events: collections.Counter[str] = collections.Counter()
    for text in (text for log in logs for text in log.read_text(errors="replace").splitlines()):
        if "Traceback" in text or '"level":"error"' in text.replace(" ", "") or '"critical"' in text:
            try:
                event = json.loads(text).get("event", text[:120])
            except ValueError:
                event = text[:120]
            if event not in EXPECTED_ERRORS:
                events[event] += 1
    return [f"error log {event} x{count}" for event, count in events.items()]
