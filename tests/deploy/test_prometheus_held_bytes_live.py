"""LLMSidecarHeldBytesRefused against a real Prometheus scraping a real sidecar that really refuses bodies.

One scenario for the module (``scenario``): a fake provider, and the sidecar (``llm-sidecar run``) with the
smallest held-bytes ceiling it takes (``SIDECAR_MAX_HELD_BYTES``, 1 MiB): a chat body of 600 KB counts
three times its length (docs/operations.md, "A process-wide bound on the bytes held") and is answered
503 ``held_bytes_full``, while small chats keep being served. Prometheus scrapes its health port with
deploy/prometheus/scrape-config.yaml's job and evaluates a copy of the rules 60 times faster, as in
tests/deploy/test_prometheus_live.py. The scenario:

1. the sidecar scraped, nothing refused yet;
2. three oversized chats, each refused, and a small one served after them;
3. until the alert fires (or 20 s pass).

So the alert's expression is held to the series a sidecar exports when it refuses bodies, not only to
synthetic ones (tests/deploy/prometheus/alerts_test.yaml).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import orjson
import pytest

from ..live_stack import Processes
from .scraped import APP, Scenario, scraped_sidecar

pytestmark = pytest.mark.timeout(150)

ALERT = "LLMSidecarHeldBytesRefused"
COUNTER = "llm_sidecar_held_bytes_refusals_total"
REFUSED = 3

POLICY = """\
version: 1
providers:
  primary: {kind: fake, speaks: openai, base_url: "PRIMARY"}
models:
  fast: {provider: primary, model: fast-1}
default: {target: fast}
"""


class RefusalScenario(Scenario):
    scraped_before: float = -1.0  # the counter's value Prometheus had before any refusal
    refusing_at: float = 0.0  # the oversized chats began
    answers: tuple[tuple[int, str], ...] = ()  # (status, error code) of each oversized chat
    small_status: int = 0  # the small chat's status after the refusals


def chat(sidecar: str, content: str) -> tuple[int, str]:
    """One chat through the sidecar: its status and, for an error, its ``error.code``."""
    body = orjson.dumps({"model": "fast", "messages": [{"role": "user", "content": content}]})
    request = urllib.request.Request(
        f"{sidecar}/v1/chat/completions",
        data=body,
        headers={"content-type": "application/json", "authorization": "Bearer app-key"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, ""
    except urllib.error.HTTPError as error:
        code: str = orjson.loads(error.read())["error"]["code"]
        return error.code, code


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RefusalScenario]:
    work = tmp_path_factory.mktemp("held-bytes")
    processes = Processes(work)
    try:
        primary = processes.fake_provider("primary")
        policy = work / "policy.yaml"
        policy.write_text(POLICY.replace("PRIMARY", primary))
        settings = {"SIDECAR_APP": APP, "SIDECAR_MAX_HELD_BYTES": str(1024 * 1024)}
        sidecar, access_log, prometheus = scraped_sidecar(processes, policy, settings)
        record = RefusalScenario(prometheus, access_log)
        record.scraped_before = record.scraped_at_start(COUNTER)
        record.refusing_at = time.monotonic()
        record.answers = tuple(chat(sidecar, "x" * 600_000) for _ in range(REFUSED))
        record.small_status = chat(sidecar, "a small question")[0]
        record.wait(20, lambda: record.state_at_end(ALERT) == "firing")
        yield record
    finally:
        processes.close()


def test_the_counter_is_scraped_at_zero_before_any_refusal(scenario: RefusalScenario) -> None:
    """The counter is exported (0) from the start, so ``increase`` sees the first refusals (a series born
    at its first refusal would show no increase until the next), and the alert was quiet then."""
    assert scenario.scraped_before == 0.0
    assert all(state == "inactive" for t, state in scenario.states[ALERT] if t < scenario.refusing_at)


def test_the_oversized_chats_are_refused_and_a_small_one_served(scenario: RefusalScenario) -> None:
    """Each 600 KB chat (three times its length held: past the 1 MiB ceiling) is a 503 ``held_bytes_full``,
    and the process serves the next small chat: one request loses, the sidecar lives."""
    assert (scenario.answers, scenario.small_status) == (((503, "held_bytes_full"),) * REFUSED, 200)


def test_the_alert_fires_on_a_sidecar_refusing_bodies(scenario: RefusalScenario) -> None:
    """The sidecar refused bodies: LLMSidecarHeldBytesRefused fires for its pod within a scrape, its
    ``for`` (1 s in the fast copy) and a few seconds of the refusals, with the pod's labels."""
    fired = scenario.fired_for_the_pod(ALERT, scenario.refusing_at)
    assert fired - scenario.refusing_at < 1 + 1 + 8
