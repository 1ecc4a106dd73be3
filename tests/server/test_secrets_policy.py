"""A secret put where the policy is read never comes back out of the sidecar: a key file mounted as the
policy, a budget counted by a credential header, a password in a provider's ``base_url``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import orjson

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..waiting import until

KEY = "sk-PLANTED-policy-3c4d5e6f7a8b9c0d1e2f"
PASSWORD = "PLANTED-basic-pw-8e7d6c5b"


async def get_status(running: RunningSidecar) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(running.url + "/status") as answer:
        return await answer.read()


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    """``llm-sidecar validate`` on every path at once: one process start (seconds each on a loaded machine,
    where six in a row ran past the test's time limit)."""
    command = [sys.executable, "-m", "sidecar", "validate", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=50)


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
    status = await until(
        lambda: get_status(running), lambda status: orjson.loads(status)["policy"]["last_reload_error"]
    )
    errors = orjson.loads(status)["policy"]["last_reload_error"]["errors"]
    assert errors == ["the policy must be a mapping, not a single value (text)"]
    checked = validate(running.policy_path)
    assert checked.returncode == 1 and "must be a mapping" in checked.stdout + checked.stderr
    for output in (status, running.logs.getvalue(), (checked.stdout + checked.stderr).encode()):
        assert KEY[:12].encode() not in output


async def test_a_budget_counted_by_a_credential_header_is_refused(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path
) -> None:
    """``scope: {by: header, header: authorization}`` (or any credential header) would make the caller's
    key a counter's name: shown in /status, in the 429's message, in Redis key names. It is refused at
    load, pointing to ``by: key`` (its hash); a reload to it leaves the last good policy serving."""
    url = await fake()
    running = await sidecar(policy(url))
    paths = []
    for header in ("authorization", "X-Api-Key", "api-key", "x-goog-api-key", "cookie", "proxy-authorization"):
        limits = (
            "budgets:\n  limits:\n    - {name: per-caller, measure: requests, amount: 1, window: minute, "
            f"scope: {{by: header, header: {header}}}, action: deny}}\n"
        )
        paths.append(tmp_path / f"{header}.yaml")
        paths[-1].write_text(policy(url, limits))
    checked = validate(*paths)
    assert checked.returncode == 1, checked.stdout
    for path in paths:
        assert (
            f"{path}: budgets.limits[0].scope.header: a credential header: its values are keys; "
            "count by the caller's key with by: key (its hash)"
        ) in checked.stdout
    running.policy_path.write_text(policy(url, limits))
    headers = {"authorization": f"Bearer {KEY}"}
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    refused = await until(lambda: get_status(running), lambda status: b"a credential header" in status)
    async with aiohttp.ClientSession() as session:
        outputs = [refused]
        for _ in range(3):
            async with session.post(running.url + "/v1/chat/completions", json=body, headers=headers) as answer:
                assert answer.status == 200
                outputs.append(await answer.read())
    outputs.append(await get_status(running))
    assert b"a credential header" in outputs[-1]
    for output in (*outputs, running.logs.getvalue()):
        assert KEY.encode() not in output


async def test_a_password_in_a_base_url_is_refused_without_quoting_it(tmp_path: Path) -> None:
    """``base_url: https://user:password@host`` would put a password in the policy (a ConfigMap, printed
    by ``diff``) and in the Basic credentials of every call, which a provider's error may echo back to the
    app: refused at load, the error naming the field and not the URL."""
    paths = []
    for n, userinfo in enumerate((f"user:{PASSWORD}@", f"{PASSWORD}@", "user:@")):
        paths.append(tmp_path / f"policy{n}.yaml")
        paths[-1].write_text(policy(f"http://{userinfo}127.0.0.1:9"))
    checked = validate(*paths)
    assert checked.returncode == 1, checked.stdout
    for path in paths:
        assert (
            f"{path}: providers.p.base_url: must not hold a user or password: the policy is not a secret (a key "
            "goes in api_key)"
        ) in checked.stdout
    assert PASSWORD not in checked.stdout + checked.stderr
