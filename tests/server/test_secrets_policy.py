"""A secret put where the policy is read never comes back out of the sidecar: a key file mounted as the
policy, a budget counted by a credential header, a password in a provider's ``base_url``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import orjson

from ..conftest import FakeFactory, SidecarFactory

KEY = "sk-PLANTED-policy-3c4d5e6f7a8b9c0d1e2f"
PASSWORD = "PLANTED-basic-pw-8e7d6c5b"


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sidecar", "validate", str(path)], capture_output=True, text=True, timeout=30
    )


def policy(url: str, extra: str = "") -> str:
    return f"""version: 1
providers:
  p: {{kind: fake, speaks: openai, base_url: "{url}"}}
models:
  m: {{provider: p, model: x, price: {{input_per_mtok: 1, output_per_mtok: 1}}}}
default: {{target: m}}
{extra}"""


async def test_a_key_file_mounted_as_the_policy_is_refused_without_quoting_it(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path
) -> None:
    """The policy path pointing at a key file (a Secret mounted where the ConfigMap should be): the
    reload is refused, and neither /status, the log nor ``validate`` quotes the file's text (it was
    quoted as "not a single value ('sk-...')")."""
    running = await sidecar(policy(await fake()))
    running.policy_path.write_text(KEY + "\n")
    async with aiohttp.ClientSession() as session:
        for _ in range(60):
            async with session.get(running.url + "/status") as answer:
                status = await answer.read()
            if orjson.loads(status)["policy"]["last_reload_error"]:
                break
            await asyncio.sleep(0.05)
    errors = orjson.loads(status)["policy"]["last_reload_error"]["errors"]
    assert errors == ["the policy must be a mapping, not a single value (text)"]
    checked = validate(running.policy_path)
    assert checked.returncode == 1 and "must be a mapping" in checked.stdout + checked.stderr
    for output in (status, running.logs.getvalue(), (checked.stdout + checked.stderr).encode()):
        assert KEY[:12].encode() not in output
