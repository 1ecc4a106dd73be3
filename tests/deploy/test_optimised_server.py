"""The server as the image runs it, optimised: a real ``python -OO -P -m sidecar run`` process (no
docstrings, no asserts) on a policy that uses every feature (routing, the response cache, budgets, an
ensemble, quality gates, a shadow, traces over OTLP/HTTP), driven by the official SDKs against a fake
provider, the way an app in the pod would see it.

The safety review behind running it optimised (what in the sidecar and its dependencies reads
docstrings or relies on asserts) is in docs/operations.md, "Memory and the optimised server".
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anthropic
import openai
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live_stack import Processes, http

from ..sdk_clients import SIDECAR_TIMEOUT_S, sdk_client

POLICY = """
version: 1
providers:
  up: {kind: fake, base_url: FAKE}
models:
  small: {provider: up, model: small-1, price: {input_per_mtok: 1, output_per_mtok: 1}, quality: {tier: standard}}
  large: {provider: up, model: large-1, price: {input_per_mtok: 2, output_per_mtok: 2}, quality: {tier: premium}}
routing:
  classes:
    - name: code
      rules: [{keywords: [python], in: [last_user]}]
routes:
  - name: routed
    match: {model: routed}
    target: {select: cheapest, from: [small, large]}
    gates: {regex: {pattern: hello}}
    shadow: {candidates: [large], sample: 1.0}
  - name: cached
    match: {model: cached}
    target: small
    cache: {enabled: true, cacheable: always}
  - name: vote
    match: {model: vote}
    ensemble: {members: [small, large], early_quorum: false}
  - name: capped
    match: {model: capped}
    target: small
budgets:
  limits:
    - {name: one-a-month, measure: requests, amount: 1, window: month,
       scope: {by: route, values: [capped], others: exempt}}
"""

PROMPT = [{"role": "user", "content": "hello, which python version?"}]


class TraceSink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that keeps the bodies posted to it (protobuf, read as bytes)."""

    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.server.received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def http_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=SIDECAR_TIMEOUT_S) as response:
        text: str = response.read().decode()
        return text


@dataclass
class Stack:
    url: str
    process: subprocess.Popen[bytes]
    policy: Path
    fake: str
    traces: list[tuple[str, bytes]]

    def openai(self) -> openai.OpenAI:
        return sdk_client(openai.OpenAI, base_url=f"{self.url}/v1", api_key="x")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("optimised")
    sink = ThreadingHTTPServer(("127.0.0.1", 0), TraceSink)
    sink.received = []
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    processes = Processes(workdir)
    try:
        fake = processes.fake_provider("up")
        policy = workdir / "policy.yaml"
        policy.write_text(POLICY.replace("FAKE", fake))
        env = {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_port}",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        process, ports = processes.start_sidecar(policy, env, python=("-OO", "-P"))
        yield Stack(f"http://127.0.0.1:{ports['port']}", process, policy, fake, sink.received)
    finally:
        processes.close()
        sink.shutdown()
        sink.server_close()


def test_the_server_process_is_optimised(stack: Stack) -> None:
    """The process under test is the interpreter started with -OO (what the rest of this module relies on)."""
    cmdline = Path(f"/proc/{stack.process.pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[1:6] == [b"-OO", b"-P", b"-m", b"sidecar", b"run"]


def test_a_chat_is_routed_gated_and_shadowed(stack: Stack) -> None:
    """A chat through the OpenAI SDK is classified and sent to the cheapest capable model, passes the
    route's gate, is shadowed to the candidate, and carries the echoed answer."""
    with stack.openai() as client:
        raw = client.chat.completions.with_raw_response.create(model="routed", messages=PROMPT)
    completion = raw.parse()
    assert completion.choices[0].message.content == PROMPT[0]["content"]
    headers = raw.headers
    assert (headers["x-sidecar-task"], headers["x-sidecar-model"]) == ("code", "small")
    assert headers["x-sidecar-gates"] == "passed"
    assert headers["x-sidecar-shadow"] == "sampled"


def test_a_stream_is_relayed_event_by_event(stack: Stack) -> None:
    """A streamed chat through the OpenAI SDK arrives as chunks that add up to the answer, with usage."""
    with stack.openai() as client:
        chunks = list(
            client.chat.completions.create(
                model="routed",
                messages=PROMPT,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == PROMPT[0]["content"]
    assert chunks[-1].usage is not None


def test_a_repeated_request_is_a_cache_hit(stack: Stack) -> None:
    """The same request twice on a caching route: a miss, then a hit with the same answer."""
    messages = [{"role": "user", "content": "hello cache"}]
    with stack.openai() as client:
        first = client.chat.completions.with_raw_response.create(model="cached", messages=messages)
        second = client.chat.completions.with_raw_response.create(model="cached", messages=messages)
    assert (first.headers["x-sidecar-cache"], second.headers["x-sidecar-cache"]) == ("miss", "hit")
    assert second.parse().choices[0].message.content == "hello cache"


def test_an_ensemble_votes(stack: Stack) -> None:
    """An ensemble route asks both members and answers with the majority's answer."""
    with stack.openai() as client:
        raw = client.chat.completions.with_raw_response.create(model="vote", messages=PROMPT)
    assert raw.headers["x-sidecar-ensemble"].startswith("strategy=majority; winner=")
    assert "votes=2/2" in raw.headers["x-sidecar-ensemble"]
    assert raw.parse().choices[0].message.content == PROMPT[0]["content"]


def test_a_budget_denial_is_a_429_in_the_openai_shape(stack: Stack) -> None:
    """Past the route's one-request budget, the SDK gets a 429 naming the limit (no retry: max_retries=0)."""
    with stack.openai() as client:
        client.chat.completions.create(model="capped", messages=PROMPT)
        with pytest.raises(openai.RateLimitError) as denied:
            client.chat.completions.create(model="capped", messages=PROMPT)
    assert denied.value.response.headers["x-sidecar-budget-action"] == "deny:one-a-month"
    assert denied.value.code == "budget_exceeded"


def test_an_unknown_model_is_answered_in_the_callers_dialect(stack: Stack) -> None:
    """A model no route takes gets the sidecar's 404 in the Anthropic shape, which the Anthropic SDK raises
    as its own error type with the message."""
    with (
        sdk_client(anthropic.Anthropic, base_url=stack.url, api_key="x") as client,
        pytest.raises(anthropic.NotFoundError) as refused,
    ):
        client.messages.create(model="nowhere", max_tokens=20, messages=[{"role": "user", "content": "hello"}])
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert "no route for model 'nowhere'" in body["error"]["message"]


def test_a_body_that_is_not_json_is_a_400_in_the_callers_dialect(stack: Stack) -> None:
    """A broken JSON body on the Anthropic path: a 400 invalid_request_error in the Anthropic shape, no
    stack trace."""
    request = urllib.request.Request(
        f"{stack.url}/v1/messages",
        data=b'{"model": "routed", "messages": [',
        headers={"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "x"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=SIDECAR_TIMEOUT_S)
    with refused.value as answer:
        assert answer.code == 400
        body = orjson.loads(answer.read())
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in body["error"]["message"]


def test_metrics_keep_their_help_texts(stack: Stack) -> None:
    """/metrics parses, and every family has its HELP text (the texts are strings, not docstrings)."""
    with stack.openai() as client:
        client.chat.completions.create(model="routed", messages=PROMPT)
    families = list(text_string_to_metric_families(http_text(f"{stack.url}/metrics")))
    ours = [f for f in families if f.name.startswith(("llm_sidecar_", "gen_ai_"))]
    assert len(ours) > 10
    assert [f.name for f in families if not f.documentation.strip() or f.documentation == "None"] == []
    requests = next(f for f in ours if f.name == "llm_sidecar_requests")
    assert {s.labels["route"] for s in requests.samples} >= {"routed", "cached", "vote"}


def test_spans_reach_the_otlp_endpoint(stack: Stack) -> None:
    """The request spans are exported over OTLP/HTTP (the route's name is in the posted protobuf)."""
    with stack.openai() as client:
        client.chat.completions.create(model="routed", messages=PROMPT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(path == "/v1/traces" and b"routed" in body for path, body in stack.traces):
            return
        time.sleep(0.05)
    pytest.fail(f"no span at the sink: {[path for path, _ in stack.traces]}")


def test_a_broken_policy_reload_keeps_the_last_good_policy(stack: Stack) -> None:
    """A policy file that no longer validates, reloaded by SIGHUP, is rejected (in /status) and the last
    good policy keeps serving."""
    before = http("GET", f"{stack.url}/status")["policy"]
    good = stack.policy.read_text()
    try:
        stack.policy.write_text(good.replace("target: small\n", "target: nowhere\n"))
        stack.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        policy = before
        while time.monotonic() < deadline and policy["reloads_failed"] == before["reloads_failed"]:
            time.sleep(0.05)
            policy = http("GET", f"{stack.url}/status")["policy"]
        assert policy["reloads_failed"] == before["reloads_failed"] + 1
        assert "routes[1].target: unknown model 'nowhere'" in policy["last_reload_error"]["errors"]
        assert policy["version"] == before["version"]
        with stack.openai() as client:
            raw = client.chat.completions.with_raw_response.create(model="cached", messages=PROMPT)
        assert raw.headers["x-sidecar-policy-version"] == before["version"]
    finally:
        stack.policy.write_text(good)
