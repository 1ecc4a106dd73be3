"""LLMSidecarLogLinesDropped against a real Prometheus scraping a real sidecar that really drops log lines.

One scenario for the module (``scenario``): a fake provider, and the sidecar (``llm-sidecar run``) whose
stdout is a pipe the test holds open and never reads (a container runtime's log driver stalled): the OS
pipe fills, then the sidecar's own buffer of lines waiting for it (``log_pipe.DEFAULT_MAX_BYTES``, 4 MiB),
then it drops lines and counts them (``llm_sidecar_log_lines_dropped_total``). Prometheus scrapes its
health port with deploy/prometheus/scrape-config.yaml's job and evaluates a copy of the rules 60 times
faster, as in tests/deploy/test_prometheus_live.py. To fill 4 MiB in a few hundred requests, the route
matches on a header (``x-pad``) whose 8 KB value every access line carries (docs/logs.md, ``headers``);
the answers are cache hits after the first, so the traffic costs the fake provider nothing. The scenario:

1. the sidecar scraped, no line dropped yet;
2. padded requests until its ``/status`` counts dropped lines (or 60 s pass);
3. until the alert fires (or 20 s pass).

So the alert's expression is held to the series a sidecar exports when its stdout stalls, not only to
synthetic ones (tests/deploy/prometheus/alerts_test.yaml).
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Iterator
from http.client import HTTPConnection

import orjson
import pytest

from ..live_stack import Processes, http
from .scraped import APP, Scenario, scraped_sidecar

pytestmark = pytest.mark.timeout(150)

ALERT = "LLMSidecarLogLinesDropped"
PAD = "x" * 8000  # one header field's value: aiohttp takes up to 8190 bytes
BODY = orjson.dumps({"model": "padded", "messages": [{"role": "user", "content": "the same question"}]})

POLICY = """\
version: 1
providers:
  primary: {kind: fake, speaks: openai, base_url: "PRIMARY"}
models:
  fast: {provider: primary, model: fast-1}
routes:
  - name: padded
    match: {model: padded, headers: {x-pad: "*"}}
    target: fast
    cache: {enabled: true, cacheable: always}
default: {target: fast}
"""


class DropScenario(Scenario):
    scraped_before: float = -1.0  # the counter's value Prometheus had before any drop
    dropping_at: float = 0.0  # the padded requests began
    dropped_at: float = 0.0  # the sidecar's /status counted dropped lines
    dropped: int = 0


def dropped_lines(sidecar: str) -> int:
    """The lines the sidecar has dropped since it started (``/status`` ``process.log_lines_dropped``)."""
    lines: int = http("GET", f"{sidecar}/status")["process"]["log_lines_dropped"]
    return lines


def pad_until_dropping(sidecar: str, within_s: float) -> int:
    """Padded chats on one kept-alive connection until the sidecar drops lines (or ``within_s`` pass):
    the lines dropped then."""
    address = urllib.parse.urlsplit(sidecar)
    connection = HTTPConnection(address.hostname or "", address.port, timeout=10)
    headers = {"content-type": "application/json", "authorization": "Bearer app-key", "x-pad": PAD}
    deadline = time.monotonic() + within_s
    try:
        while time.monotonic() < deadline:
            for _ in range(100):
                connection.request("POST", "/v1/chat/completions", BODY, headers)
                answer = connection.getresponse()
                answer.read()
                assert answer.status == 200, answer.status
            if (dropped := dropped_lines(sidecar)) > 0:
                return dropped
    finally:
        connection.close()
    return 0


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DropScenario]:
    work = tmp_path_factory.mktemp("log-drops")
    processes = Processes(work)
    unread, stdout = os.pipe()  # the read end held open, never read: the log's reader stalled
    try:
        primary = processes.fake_provider("primary")
        policy = work / "policy.yaml"
        policy.write_text(POLICY.replace("PRIMARY", primary))
        sidecar, access_log, prometheus = scraped_sidecar(processes, policy, {"SIDECAR_APP": APP}, stdout=stdout)
        record = DropScenario(prometheus, access_log)
        counter = "llm_sidecar_log_lines_dropped_total"
        record.scraped_before = record.scraped_at_start(counter)
        record.dropping_at = time.monotonic()
        record.dropped = pad_until_dropping(sidecar, 60)
        record.dropped_at = time.monotonic()
        record.wait(20, lambda: record.state_at_end(ALERT) == "firing")
        yield record
    finally:
        processes.close()
        os.close(stdout)
        os.close(unread)


def test_the_counter_is_scraped_at_zero_before_any_drop(scenario: DropScenario) -> None:
    """The counter is exported (0) from the start, so ``increase`` sees the first drops (a series born at
    its first drop would show no increase until the next), and the alert was quiet then."""
    assert (scenario.scraped_before, scenario.dropped > 0) == (0.0, True)
    assert all(state == "inactive" for t, state in scenario.states[ALERT] if t < scenario.dropping_at)


def test_the_alert_fires_on_a_sidecar_dropping_lines(scenario: DropScenario) -> None:
    """The sidecar dropped lines: LLMSidecarLogLinesDropped fires for its pod within a scrape, its
    ``for`` (1 s in the fast copy) and a few seconds of the drops, its value the lines dropped."""
    fired = scenario.fired_for_the_pod(ALERT, scenario.dropping_at)
    assert fired - scenario.dropped_at < 1 + 1 + 8
