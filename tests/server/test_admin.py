"""The sidecar's own endpoints and hot reload as an operator sees them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..waiting import until


def policy(url: str, target: str = "a") -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("p", url, "openai")
        + "models:\n  a: {provider: p, model: up-a}\n  b: {provider: p, model: up-b}\n"
        + f"default: {{target: {target}}}\n"
    )


async def get(running: RunningSidecar, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(running.url + path) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def served_model(running: RunningSidecar) -> str:
    body = {"model": "anything", "messages": [{"role": "user", "content": "x"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body) as response,
    ):
        return response.headers["x-sidecar-model"]


async def test_health_and_readiness(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """/healthz and /readyz answer 200 on a running sidecar; /readyz is 503 while draining."""
    running = await sidecar(policy(await fake()))
    assert (await get(running, "/healthz"))[0] == 200
    assert (await get(running, "/readyz"))[0] == 200
    running.state.draining = True
    assert (await get(running, "/readyz"))[0] == 503
    assert (await get(running, "/healthz"))[0] == 200


async def test_healthz_does_not_depend_on_upstreams(sidecar: SidecarFactory) -> None:
    """With every upstream unreachable, /healthz and /readyz still answer 200."""
    running = await sidecar(policy("http://127.0.0.1:9"))
    assert (await get(running, "/healthz"))[0] == 200
    assert (await get(running, "/readyz"))[0] == 200


async def test_status_shows_policy_and_routes(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """/status reports the policy version, load time, routes and no reload error."""
    running = await sidecar(policy(await fake()))
    status, body = await get(running, "/status")
    assert status == 200
    assert body["policy"]["version"] == running.state.holder.policy.version
    assert body["policy"]["last_reload_error"] is None
    assert body["routes"][0]["targets"] == ["a"]


async def test_changed_policy_is_served_without_restart(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Editing the policy file changes where requests go within 2 s, and /status shows the new version."""
    running = await sidecar(policy(await fake()))
    old = running.state.holder.policy.version
    assert await served_model(running) == "a"
    running.policy_path.write_text(policy(await fake(), target="b"))
    for _ in range(40):
        if await served_model(running) == "b":
            break
        await asyncio.sleep(0.05)
    assert await served_model(running) == "b"
    assert (await get(running, "/status"))[1]["policy"]["version"] != old


async def test_broken_policy_keeps_serving_and_reports(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A broken edit leaves the last good policy serving; /status, the log and /metrics report it."""
    running = await sidecar(policy(await fake()))
    running.policy_path.write_text("version: 1\nproviders: {}\nmodels: {x: {provider: nope, model: m}}\n")
    for _ in range(40):
        body = (await get(running, "/status"))[1]
        if body["policy"]["last_reload_error"]:
            break
        await asyncio.sleep(0.05)
    assert body["policy"]["last_reload_error"]["errors"] == ["models.x.provider: unknown provider 'nope'"]
    assert await served_model(running) == "a"
    assert any(line.get("event") == "policy_rejected" for line in running.log_lines())
    metrics = (await get(running, "/metrics"))[1]
    assert 'llm_sidecar_policy_reloads_total{outcome="error"} 1' in metrics


async def test_metrics_say_whether_the_policy_file_serves(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """llm_sidecar_policy_last_reload_successful is 1 from the start, 0 once an edit is rejected (the pod
    serves a stale policy) and 1 again when a good file is applied; the timestamp follows the serving policy."""
    url = await fake()
    running = await sidecar(policy(url))

    async def gauges() -> tuple[str, float]:
        metrics = (await get(running, "/metrics"))[1]
        successful = re.search(r"^llm_sidecar_policy_last_reload_successful (\S+)$", metrics, re.MULTILINE)
        stamp = re.search(r"^llm_sidecar_policy_last_reload_timestamp_seconds (\S+)$", metrics, re.MULTILINE)
        assert successful and stamp, metrics
        return successful.group(1), float(stamp.group(1))

    async def wait_for(successful: str) -> float:
        for _ in range(60):
            now, stamp = await gauges()
            if now == successful:
                return stamp
            await asyncio.sleep(0.05)
        raise AssertionError(f"llm_sidecar_policy_last_reload_successful never became {successful}")

    started = await wait_for("1.0")
    assert started == (await get(running, "/status"))[1]["policy"]["loaded_at"]
    running.policy_path.write_text("version: 1\nproviders: {}\nmodels: {x: {provider: nope, model: m}}\n")
    assert await wait_for("0.0") == started
    running.policy_path.write_text(policy(url, target="b"))
    assert await wait_for("1.0") > started


async def test_rolling_back_a_rejected_policy_clears_the_stale_state(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The runbook's rollback: after a rejected edit, writing back the file that serves sets
    llm_sidecar_policy_last_reload_successful to 1 (LLMSidecarPolicyReloadRejected resolves), clears
    /status .policy.last_reload_error and logs policy_restored; it is no reload (counters, version and
    loaded_at unchanged)."""
    good = policy(await fake())
    running = await sidecar(good)
    before = (await get(running, "/status"))[1]["policy"]
    running.policy_path.write_text("version: 1\nproviders: {}\nmodels: {x: {provider: nope, model: m}}\n")
    for _ in range(60):
        if (await get(running, "/status"))[1]["policy"]["last_reload_error"]:
            break
        await asyncio.sleep(0.05)
    running.policy_path.write_text(good)
    for _ in range(60):
        after = (await get(running, "/status"))[1]["policy"]
        if after["last_reload_error"] is None:
            break
        await asyncio.sleep(0.05)
    assert after["last_reload_error"] is None
    assert (after["version"], after["loaded_at"], after["reloads_ok"]) == (before["version"], before["loaded_at"], 0)
    metrics = (await get(running, "/metrics"))[1]
    assert re.search(r"^llm_sidecar_policy_last_reload_successful 1\.0$", metrics, re.MULTILINE), metrics
    assert 'llm_sidecar_policy_reloads_total{outcome="ok"} 0.0' in metrics
    restored = [line for line in running.log_lines() if line.get("event") == "policy_restored"]
    assert [line["version"] for line in restored] == [before["version"]]


async def test_reload_counters_start_at_zero(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Before any reload, /metrics shows llm_sidecar_policy_reloads_total at 0 for both outcomes, so
    Prometheus's increase() and changes() see the first reload of a pod (a series born at 1 has no
    increase)."""
    running = await sidecar(policy(await fake()))
    metrics = (await get(running, "/metrics"))[1]
    assert 'llm_sidecar_policy_reloads_total{outcome="ok"} 0.0' in metrics
    assert 'llm_sidecar_policy_reloads_total{outcome="error"} 0.0' in metrics


async def test_in_flight_request_keeps_its_policy(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A request that started before a reload finishes on the target its policy chose."""
    url = await fake(latency_ms=600)
    running = await sidecar(policy(url))
    slow = asyncio.create_task(served_model(running))
    await until(lambda: running.fake_requests(url))  # the request is at the fake, on the first policy's target
    await running.reload(policy(url, target="b"))
    assert running.state.holder.policy.default is not None
    assert running.state.holder.policy.default.chain[0].name == "b"
    assert await slow == "a"


def learned_policy(url: str) -> str:
    """Extraction (as the router file in the policy's directory decides) to model a, the rest to b."""
    return (
        policy(url, target="b")
        + "routing:\n  classes: [{name: extraction}, {name: classification}, {name: code}, {name: math}]\n"
        + "  learned: {file: router.json, decides: [task]}\n"
        + "routes:\n  - {match: {task: extraction}, target: a}\n"
    )


async def model_for_extraction(running: RunningSidecar) -> str:
    text = "Extract the dates from this invoice: Order 1234 shipped on May 3 to Anna."
    body = {"model": "anything", "messages": [{"role": "user", "content": text}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body) as response,
    ):
        return response.headers["x-sidecar-model"]


async def test_rewritten_router_file_routes_the_next_requests(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path, router_files: tuple[bytes, bytes]
) -> None:
    """Rewriting only the learned router file (other labels) makes the next requests route as it decides."""
    (tmp_path / "router.json").write_bytes(router_files[0])
    running = await sidecar(learned_policy(await fake()))
    assert await model_for_extraction(running) == "a"
    (tmp_path / "router.json").write_bytes(router_files[1])  # extraction and code exchanged
    for _ in range(40):
        if await model_for_extraction(running) == "b":
            break
        await asyncio.sleep(0.05)
    assert await model_for_extraction(running) == "b"


async def test_corrupt_router_file_keeps_routing_and_reports(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path, router_files: tuple[bytes, bytes]
) -> None:
    """A corrupt router file is rejected: the old router keeps routing, /status says why and
    llm_sidecar_policy_last_reload_successful is 0."""
    (tmp_path / "router.json").write_bytes(router_files[0])
    running = await sidecar(learned_policy(await fake()))
    (tmp_path / "router.json").write_bytes(b"not json")
    for _ in range(40):
        body = (await get(running, "/status"))[1]
        if body["policy"]["last_reload_error"]:
            break
        await asyncio.sleep(0.05)
    (error,) = body["policy"]["last_reload_error"]["errors"]
    assert error.startswith("routing.learned.file: router.json: invalid JSON")
    assert await model_for_extraction(running) == "a"
    metrics = (await get(running, "/metrics"))[1]
    assert re.search(r"^llm_sidecar_policy_last_reload_successful 0\.0$", metrics, re.MULTILINE)


API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


async def test_every_status_field_is_named_in_the_api_docs(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Each top-level field of /status is named (in backticks) in docs/api.md's row for ``GET /status``."""
    running = await sidecar(policy(await fake()))
    body = (await get(running, "/status"))[1]
    doc = API_DOC.read_text()
    [row] = [line for line in doc.splitlines() if line.startswith("| `GET /status` |")]
    assert len(body) > 5 and [key for key in body if f"`{key}`" not in row] == []


def json_keys(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(path, key)`` of every key of a JSON value, the names ``models`` and ``targets`` are keyed by
    (a model's, a target's) aside: those are the policy's, not fields."""
    if isinstance(value, dict):
        for key, item in value.items():
            if path in (".models", ".targets"):
                yield from json_keys(item, f"{path}[{key!r}]")
            else:
                yield path, key
                yield from json_keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from json_keys(item, f"{path}[]")


async def test_every_nested_status_field_is_in_the_api_docs_status_section(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Each field of /status, at every level (``process.max_fds``, ``targets[...].breaker.state_age_s``,
    ``policy.last_reload_error.errors``), of a sidecar with a target that failed and a rejected policy
    edit, is named in docs/api.md's "GET /status, field by field" (its example or its list)."""
    running = await sidecar(policy(await fake()))
    body = {"model": "a", "messages": [{"role": "user", "content": "x"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body, headers={"x-fake-fault": "status=503"}),
    ):
        pass
    running.policy_path.write_text("version: 1\nproviders: {}\nmodels: {x: {provider: nope, model: m}}\n")
    await until(lambda: any(line.get("event") == "policy_rejected" for line in running.log_lines()))
    status = (await get(running, "/status"))[1]
    section = API_DOC.read_text().split("### `GET /status`, field by field", 1)[1].split("\n## ", 1)[0]
    fields = list(json_keys(status))
    assert status["policy"]["last_reload_error"] and status["targets"] and len(fields) > 40
    assert sorted({f"{path}.{key}" for path, key in fields if f'"{key}"' not in section}) == []


async def test_every_status_budget_field_is_in_the_budgets_docs(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Each field of a /status ``budgets`` row (a policy with a limit, after a request counted in it) is
    named in docs/budgets.md's ``/status`` item, where docs/api.md's /status section sends the reader."""
    limits = "budgets:\n  limits:\n    - {name: daily, measure: requests, amount: 100, window: day}\n"
    running = await sidecar(policy(await fake()) + limits)
    await served_model(running)
    rows = (await get(running, "/status"))[1]["budgets"]
    text = (API_DOC.parent / "budgets.md").read_text()
    [item] = [" ".join(part.split()) for part in text.split("\n- ") if part.startswith("**/status**")]
    assert rows and rows[0]["limit"] == "daily"
    assert sorted({key for row in rows for key in row if not re.search(rf"\b{key}\b", item)}) == []


async def test_every_status_shadow_field_is_in_the_ensembles_docs(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Each field of a /status ``shadow`` row (a route shadowing every request to a candidate, after one
    request) is in docs/ensembles.md's example of the ``shadow`` table, where docs/api.md's /status
    section sends the reader."""
    route = "routes:\n  - {name: r, match: {model: x}, target: a, shadow: {candidates: [b], sample: 1}}\n"
    running = await sidecar(policy(await fake()) + route)
    body = {"model": "x", "messages": [{"role": "user", "content": "x"}]}
    async with aiohttp.ClientSession() as session, session.post(f"{running.url}/v1/chat/completions", json=body):
        pass
    rows = await until(lambda: get(running, "/status"), lambda status: status[1]["shadow"])
    text = (API_DOC.parent / "ensembles.md").read_text()
    example = text.split("`/status` shows them as its `shadow` table:", 1)[1].split("```", 2)[1]
    assert rows[1]["shadow"][0]["candidate"] == "b"
    assert sorted({key for row in rows[1]["shadow"] for key in row if f'"{key}"' not in example}) == []
