"""Why a request failed, as the SRE and the app see it: every failed try's reason in words, in the access
line (``attempt_errors``) and in the error the app gets (its message and its attempts' ``detail``); the
tries that cannot fare better on a second call (a key missing, a quota gone) made once; the targets the
route's deadline left no time for listed as ``deadline_passed``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from sidecar.policy.resilience_spec import TimeoutsSpec
from sidecar.server.timeout_words import timeout_detail

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..listening import closed_port
from .chain import CONNECT, calls, chain_policy, chat


def access_line(running: RunningSidecar) -> dict[str, Any]:
    """The one access line the sidecar wrote."""
    lines = [line for line in running.log_lines() if line.get("event") == "access"]
    assert len(lines) == 1, lines
    return lines[0]


def keyed_policy(url: str, key_file: Path) -> str:
    """A route ``chain`` over a provider whose key variable is not set, then one whose key file is empty;
    and a route ``lone`` over the first alone."""
    text = "version: 1\ndefaults:\n  resilience: {backoff: {base_s: 0.01, cap_s: 0.05}, " + CONNECT + "}\nproviders:\n"
    text += provider_block("nokey", url, "openai", key_env="MISSING_KEY")
    text += provider_block("emptyfile", url, "openai") + f"    api_key: {{file: '{key_file}'}}\n"
    text += "models:\n  m0: {provider: nokey, model: up0}\n  m1: {provider: emptyfile, model: up1}\n"
    text += "routes:\n  - {name: lone, match: {model: lone}, target: [m0]}\n"
    text += "  - {name: chain, match: {model: chain}, target: [m0, m1]}\n"
    return text


async def test_a_missing_key_is_named_in_the_error_and_the_access_line(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path
) -> None:
    """A one-target route whose key variable is not set: the 503 says which variable, the access line too,
    and the target is skipped, never called (a 502 as if it had failed a call), with nothing sent
    upstream; the app's SDK is told not to retry (a missing key stays missing)."""
    url = await fake()
    key_file = tmp_path / "key"
    key_file.write_text("")
    running = await sidecar(keyed_policy(url, key_file))
    body = {"model": "lone", "messages": [{"role": "user", "content": "hello"}]}
    async with aiohttp.ClientSession() as session, session.post(f"{running.url}/v1/chat/completions", json=body) as r:
        status, error, again = r.status, orjson.loads(await r.read())["error"], r.headers["x-should-retry"]
    assert status == 503 and error["code"] == "no_target_available" and again == "false"
    assert error["message"] == (
        "no target of route 'lone' could be called now (m0: credentials (environment variable MISSING_KEY is not set))"
    )
    assert [(a["detail"], a["called"]) for a in error["attempts"]] == [
        ("environment variable MISSING_KEY is not set", False)
    ]
    line = access_line(running)
    assert line["attempt_log"] == ["m0:credentials"]
    assert line["attempt_errors"] == ["m0:credentials: environment variable MISSING_KEY is not set"]
    assert await calls(url) == 0


async def test_a_chain_of_unusable_keys_names_each_source(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path
) -> None:
    """A chain whose keys are a variable not set and an empty file: the 503's message names both, once
    each, as targets that could not be called (the last target is not retried on a key it cannot read)."""
    url = await fake()
    key_file = tmp_path / "key"
    key_file.write_text("")
    running = await sidecar(keyed_policy(url, key_file))
    status, _, data = await chat(running)
    error = orjson.loads(data)["error"]
    assert status == 503 and error["code"] == "no_target_available"
    assert error["message"] == (
        "no target of route 'chain' could be called now (m0: credentials (environment variable MISSING_KEY is not "
        "set), "
        f"m1: credentials (key file {key_file} is empty))"
    )
    assert access_line(running)["attempt_errors"] == [
        "m0:credentials: environment variable MISSING_KEY is not set",
        f"m1:credentials: key file {key_file} is empty",
    ]


async def test_a_quota_gone_on_the_last_target_is_not_called_again(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Both targets' quotas are gone: each is called once (a billing state does not come back in a
    backoff's wait), and the 503 quotes each provider's message."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(chain_policy(urls))
    status, headers, data = await chat(running, {"x-fake-fault": "quota"})
    assert status == 503 and headers["x-should-retry"] == "false"
    assert [await calls(url) for url in urls] == [1, 1]
    line = access_line(running)
    assert line["attempt_log"] == ["m0:insufficient_quota", "m1:insufficient_quota"]
    quoted = "You exceeded your current quota, please check your plan and billing details."
    assert line["attempt_errors"] == [f"m0:insufficient_quota: {quoted}", f"m1:insufficient_quota: {quoted}"]
    assert f"m1: insufficient_quota ({quoted})" in orjson.loads(data)["error"]["message"]


async def test_a_name_that_does_not_resolve_reads_otherwise_than_a_refused_port(sidecar: SidecarFactory) -> None:
    """Both are ``connect_error``; the access line's words tell a DNS failure from a refused connection."""
    with closed_port() as port:
        await _dns_and_refused(sidecar, port)


async def _dns_and_refused(sidecar: SidecarFactory, port: int) -> None:
    text = "version: 1\ndefaults:\n  resilience: {max_attempts_per_target: 1}\nproviders:\n"
    text += provider_block("dns", "http://no-such-host.invalid/v1", "openai")
    text += provider_block("refused", f"http://127.0.0.1:{port}/v1", "openai")
    text += "models:\n  m0: {provider: dns, model: up0}\n  m1: {provider: refused, model: up1}\n"
    text += "routes:\n  - {name: chain, match: {model: chain}, target: [m0, m1]}\n"
    running = await sidecar(text)
    status, _, _ = await chat(running)
    assert status == 503
    dns, refused = access_line(running)["attempt_errors"]
    assert dns.startswith("m0:connect_error: ClientConnectorDNSError: Cannot connect to host no-such-host.invalid")
    assert refused.startswith(f"m1:connect_error: ClientConnectorError: Cannot connect to host 127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("timeouts", "error_type", "why"),
    [
        ("{first_byte_s: 0.2}", "timeout_first_byte", "no response headers within first_byte_s (0.2 s)"),
        ("{first_byte_s: 5, idle_s: 0.2}", "timeout_idle", "no data for idle_s (0.2 s)"),
    ],
)
async def test_a_timeout_names_the_limit_it_reached(
    fake: FakeFactory, sidecar: SidecarFactory, timeouts: str, error_type: str, why: str
) -> None:
    """A one-target route whose provider sends nothing: the 504 and the access line name the limit the
    wait for the head ran into, ``first_byte_s`` or, when it is the shorter, ``idle_s``."""
    url = await fake("f0")
    extra = f"    resilience: {{max_attempts_per_target: 1, timeouts: {timeouts}}}\n"
    running = await sidecar(chain_policy([url], route_extra=extra))
    status, _, data = await chat(running, {"x-fake-fault": "stall=3"})
    assert status == 504
    assert orjson.loads(data)["error"]["message"] == f"upstream m0 failed: {error_type} ({why})"
    assert access_line(running)["attempt_errors"] == [f"m0:{error_type}: {why}"]


async def test_the_targets_a_deadline_left_no_time_for_are_listed(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The route's deadline passes during the first target's wait: that timeout says the deadline cut it,
    and the target never tried is listed as ``deadline_passed`` instead of missing from the 503."""
    urls = [await fake("f0"), await fake("f1")]
    extra = "    resilience: {deadline_s: 0.3, timeouts: {first_byte_s: 5}}\n"
    running = await sidecar(chain_policy(urls, route_extra=extra))
    status, _, data = await chat(running, {"x-fake-fault": "f0:stall=3"})
    error = orjson.loads(data)["error"]
    assert status == 503
    assert [(a["target"], a["outcome"], a["called"]) for a in error["attempts"]] == [
        ("m0", "timeout_first_byte", True),
        ("m1", "deadline_passed", False),
    ]
    line = access_line(running)
    assert line["attempt_log"] == ["m0:timeout_first_byte", "m1:deadline_passed"]
    # what was left of the 0.3 s when the call started: 0.3 on a quiet machine, 0.294 on a loaded one
    assert re.fullmatch(
        r"m0:timeout_first_byte: no response headers within 0\.[0-9]+ s: the rest of the route's deadline_s",
        line["attempt_errors"][0],
    )
    assert await calls(urls[1]) == 0


@pytest.mark.parametrize(
    ("fault", "stream", "why"),
    [
        ("status=400", False, "m0:http_400: Fake provider: injected HTTP 400."),
        ("stall-mid=2;for=3", True, "m0:timeout_idle: no data for idle_s (0.2 s)"),
    ],
)
async def test_a_failure_the_app_got_as_is_has_its_reason_in_the_access_line(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str, stream: bool, why: str
) -> None:
    """The provider's own 4xx (relayed to the app) and a stream cut after it started: the access line
    holds the provider's message, or the limit the stream ran into."""
    url = await fake("f0")
    running = await sidecar(chain_policy([url], route_extra="    resilience: {timeouts: {idle_s: 0.2}}\n"))
    await chat(running, {"x-fake-fault": fault}, stream=stream)
    assert access_line(running)["attempt_errors"] == [why]


async def test_status_shows_each_targets_last_failure_and_why(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path
) -> None:
    """``/status`` names each target's last failure with its reason; a target that has not failed, null."""
    url = await fake()
    key_file = tmp_path / "key"
    key_file.write_text("")
    running = await sidecar(keyed_policy(url, key_file))
    await chat(running)
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/status") as response:
        targets = (await response.json())["targets"]
    nokey = targets["nokey/up0"]["last_failure"]
    assert (nokey["error_type"], nokey["status"]) == ("credentials", None)
    assert nokey["detail"] == "environment variable MISSING_KEY is not set"
    assert 0 <= nokey["age_s"] < 5
    assert targets["emptyfile/up1"]["last_failure"]["detail"] == f"key file {key_file} is empty"


async def test_a_requests_own_error_is_not_its_targets_last_failure(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The provider's 400 (the request is wrong) leaves the target's ``last_failure`` null."""
    url = await fake("f0")
    running = await sidecar(chain_policy([url]))
    status, _, _ = await chat(running, {"x-fake-fault": "status=400"})
    assert status == 400
    assert running.state.targets.snapshot()["p0/up0"]["last_failure"] is None


async def test_a_stream_cut_after_it_started_tells_the_app_why(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A committed stream whose provider goes quiet: the error event the app's SDK raises on names the
    limit reached, not only its code."""
    url = await fake("f0")
    running = await sidecar(chain_policy([url], route_extra="    resilience: {timeouts: {idle_s: 0.2}}\n"))
    status, _, data = await chat(running, {"x-fake-fault": "stall-mid=2;for=3"}, stream=True)
    assert status == 200
    last = [line for line in data.split(b"\n") if line.startswith(b"data: ")][-1]
    error = orjson.loads(last[len(b"data: ") :])["error"]
    assert error["code"] == "timeout_idle"
    assert error["message"] == "upstream stream failed after it started: timeout_idle (no data for idle_s (0.2 s))"


@pytest.mark.parametrize(
    ("error_type", "budget_s", "stream", "words"),
    [
        ("timeout_connect", 100.0, False, "no connection within connect_s (2 s)"),
        ("timeout_first_byte", 100.0, False, "no response headers within first_byte_s (30 s)"),
        ("timeout_first_byte", 100.0, True, "no content within first_byte_s (30 s)"),
        ("timeout_first_byte", 12.5, False, "no response headers within 12.5 s: the rest of the route's deadline_s"),
        ("timeout_idle", 100.0, True, "no data for idle_s (20 s)"),
        ("timeout_total", 100.0, False, "not finished within total_s (300 s)"),
    ],
)
def test_each_timeout_names_its_limit(error_type: str, budget_s: float, stream: bool, words: str) -> None:
    """Each timeout's words name the setting it reached and its value (the deadline's rest when shorter)."""
    timeouts = TimeoutsSpec(connect_s=2, first_byte_s=30, idle_s=20, total_s=300)
    assert timeout_detail(error_type, timeouts, budget_s, stream=stream) == words


async def test_a_retry_the_budget_refused_is_in_the_attempt_log(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The chain's last target fails and its retry budget is spent: the access line and the 503's attempts
    say the retry was not made for the budget (``retry_budget``), instead of leaving it unexplained."""
    urls = [await fake("f0"), await fake("f1")]
    budget = "  retry_budget: {ratio: 0, min_retries: 0}\n"
    running = await sidecar(chain_policy(urls, extra_defaults=budget))
    status, _, data = await chat(running, {"x-fake-fault": "status=500"})
    assert status == 503
    assert [await calls(url) for url in urls] == [1, 1]
    expected = ["m0:http_500", "m1:http_500", "m1:retry_budget"]
    assert access_line(running)["attempt_log"] == expected
    attempts = orjson.loads(data)["error"]["attempts"]
    assert [f"{a['target']}:{a['outcome']}" for a in attempts] == expected


async def test_a_stream_cut_by_the_provider_is_worded_not_reprd(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A committed stream the provider cuts (its chunked body ends before the last chunk): the error event
    and the access line's ``attempt_errors`` say the answer was cut short, not aiohttp's exception repr
    (whose ``400`` is its parser's code, not an HTTP status)."""
    url = await fake("f0")
    running = await sidecar(chain_policy([url]))
    status, _, data = await chat(running, {"x-fake-fault": "cut=2"}, stream=True)
    assert status == 200
    last = [line for line in data.split(b"\n") if line.startswith(b"data: ")][-1]
    error = orjson.loads(last[len(b"data: ") :])["error"]
    assert error["code"] == "reset"
    why = "the provider's answer was cut short: the connection closed before its last chunk"
    assert error["message"] == f"upstream stream failed after it started: reset ({why})"
    assert access_line(running)["attempt_errors"] == [f"m0:reset: {why}"]
