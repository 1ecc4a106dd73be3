"""A planted provider key never shows in logs, /status, /metrics, error bodies or spans."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..policy.test_watch import configmap_write

ENV_KEY = "sk-PLANTED-env-5f0c1d2e3a4b"
FILE_KEY = "sk-PLANTED-file-9a8b7c6d5e4f"
APP_KEY = "sk-PLANTED-app-1122334455"


@pytest.mark.parametrize("capture_content", [False, True])
async def test_planted_keys_never_leak(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path, capture_content: bool
) -> None:
    """Keys from env, file and the app stay out of every output, content capture on or off."""
    key_file = tmp_path / "key"
    key_file.write_text(FILE_KEY + "\n")
    url = await fake("f")
    policy = f"""version: 1
providers:
  a: {{dialect: fake, speaks: openai, base_url: "{url}", api_key: {{env: PLANTED}}}}
  b: {{dialect: fake, speaks: anthropic, base_url: "{url}", api_key: {{file: "{key_file}"}}}}
  c: {{dialect: fake, speaks: openai, base_url: "http://127.0.0.1:9", api_key: {{env: MISSING}}}}
models:
  ma: {{provider: a, model: x}}
  mb: {{provider: b, model: y}}
  mc: {{provider: c, model: z}}
routes:
  - {{match: {{model: chain}}, target: [mc, ma, mb]}}
"""
    running = await sidecar(policy, env={"PLANTED": ENV_KEY}, capture_content=capture_content)
    outputs: list[bytes] = []
    async with aiohttp.ClientSession() as session:
        for model, fault in (("chain", ""), ("chain", "f:status=401"), ("mb", ""), ("chain", "status=503")):
            headers = {"authorization": f"Bearer {APP_KEY}", "x-api-key": APP_KEY}
            if fault:
                headers["x-fake-fault"] = fault
            body = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
            async with session.post(f"{running.url}/v1/chat/completions", json=body, headers=headers) as response:
                outputs.append(await response.read())
                outputs.append(str(dict(response.headers)).encode())
        for path in ("/status", "/metrics"):
            async with session.get(running.url + path) as response:
                outputs.append(await response.read())
    outputs.append(running.logs.getvalue())
    for span in running.spans.get_finished_spans():
        outputs.append(str(span.attributes).encode() + str([e.attributes for e in span.events]).encode())
    text = b"\n".join(outputs)
    for secret in (ENV_KEY, FILE_KEY, APP_KEY):
        assert secret.encode() not in text, f"{secret} leaked"
    assert b"MISSING is not set" in running.logs.getvalue() or b"credentials" in text


async def keys_sent_around(
    fake: FakeFactory, sidecar: SidecarFactory, key_file: Path, rotate: Callable[[], None]
) -> tuple[RunningSidecar, list[str | None]]:
    """A sidecar whose provider key is ``key_file``: one call, ``rotate()``, a few reload ticks (0.1 s
    here), another call; the Authorization headers the provider saw."""
    url = await fake("f")
    policy = f"""version: 1
providers:
  a: {{kind: fake, speaks: openai, base_url: "{url}", api_key: {{file: "{key_file}"}}}}
models:
  m: {{provider: a, model: x}}
"""
    running = await sidecar(policy)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{running.url}/v1/chat/completions", json=body) as response:
            assert response.status == 200
        rotate()
        await asyncio.sleep(0.5)
        async with session.post(f"{running.url}/v1/chat/completions", json=body) as response:
            assert response.status == 200
    return running, [r["headers"].get("authorization") for r in await running.fake_requests(url)]


async def test_key_file_rotation_is_picked_up(fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path) -> None:
    """Rewriting the key file changes the key sent upstream without a restart."""
    key_file = tmp_path / "key"
    key_file.write_text("first-key")
    _, seen = await keys_sent_around(fake, sidecar, key_file, lambda: key_file.write_text("second-key-longer"))
    assert seen[-2:] == ["Bearer first-key", "Bearer second-key-longer"]


async def test_a_secret_volume_swap_rotates_the_key_once(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path
) -> None:
    """The kubelet's ..data swap of a Secret volume (same path, same size, new file; Secrets update as
    ConfigMaps do) is picked up: the
    next call sends the new key, and key_file_reloaded is logged once with the path, never the key."""
    configmap_write(tmp_path, {"openai-api-key": b"key-AAAA"}, "2026_12_04_10_00_00.1")
    key_file = tmp_path / "openai-api-key"
    running, seen = await keys_sent_around(
        fake,
        sidecar,
        key_file,
        lambda: configmap_write(tmp_path, {"openai-api-key": b"key-BBBB"}, "2026_12_04_10_01_00.2"),
    )
    assert seen[-2:] == ["Bearer key-AAAA", "Bearer key-BBBB"]
    reloaded = [line for line in running.log_lines() if line.get("event") == "key_file_reloaded"]
    assert [line["path"] for line in reloaded] == [str(key_file)]
    assert b"key-BBBB" not in running.logs.getvalue()
