"""README.md's quick start, as a newcomer runs it after ``make run``: the demo policy (its three fake
providers here on free ports, not 9101-9103), its curl line run as shown, the request of that line sent
through the OpenAI SDK as its Python snippet does, and the failure it says to try; the snippet itself run
as README says to run it, and its "Run it for real" commands in the venv ``make run`` made."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from .conftest import FakeFactory, RunningSidecar, SidecarFactory
from .sdk_clients import openai_client, sdk_client

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DEMO = (ROOT / "sidecar" / "demo" / "policy.yaml").read_text()


async def demo(fake: FakeFactory, sidecar: SidecarFactory) -> RunningSidecar:
    """The demo policy served, each fake provider under its name, on a port of its own."""
    policy = DEMO
    for port, name in ((9101, "fake-openai"), (9102, "fake-anthropic"), (9103, "fake-gemini")):
        policy = policy.replace(f"http://127.0.0.1:{port}", await fake(name))
    return await sidecar(policy)


async def test_the_quick_start_request_is_answered_by_the_smart_chains_first_target(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The curl line's body, sent as the Python snippet sends it, gets the echo from Claude (a fake
    Anthropic server: translated), and the x-sidecar-* headers say so."""
    body = orjson.loads(re.search(r"-d '(\{.*?\})'", README).group(1))  # type: ignore[union-attr]
    running = await demo(fake, sidecar)
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(**body)
    reply = raw.parse()
    assert reply.choices[0].message.content == "hello"
    headers = raw.headers
    assert (headers["x-sidecar-route"], headers["x-sidecar-model"], headers["x-sidecar-provider"]) == (
        "smart",
        "claude-haiku",
        "fake-anthropic",
    )


async def test_the_curl_line_run_as_shown_prints_the_headers_and_the_answer(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """README.md's curl command, run as written (on the sidecar's port here) with the machine's curl,
    prints the response head with the ``x-sidecar-*`` headers the text under it names (route, model,
    provider) and then the answer, the fake provider's echo."""
    import shlex
    import shutil

    block = re.search(r"With `make run` going, in another terminal:\n\n```sh\n(.*?)```", README, re.S)
    assert block is not None and shutil.which("curl")
    running = await demo(fake, sidecar)
    joined = block.group(1).replace("\\\n", " ")  # the continued line, as a shell joins it
    argv = shlex.split(joined.replace("http://127.0.0.1:8080", running.url))
    assert argv[0] == "curl"
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    head, _, body = stdout.decode().partition("\r\n\r\n")
    fields = dict(line.lower().split(": ", 1) for line in head.splitlines()[1:])
    assert process.returncode == 0 and head.startswith("HTTP/1.1 200"), stderr.decode()
    said = re.search(r"The `x-sidecar-\*` response headers say which (\w+), (\w+) and (\w+) served it", README)
    assert said is not None and all(f"x-sidecar-{name}" in fields for name in said.groups())
    assert orjson.loads(body)["choices"][0]["message"]["content"] == "hello"


async def test_the_failure_to_try_falls_back_with_the_reason_the_readme_gives(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The header README.md says to add fails Claude; the answer comes from the next target of the
    chain (GPT), with the fallback reason README.md names."""
    fault = re.search(r"`x-fake-fault: ([^`]+)`", README).group(1)  # type: ignore[union-attr]
    reason = re.search(r"`x-sidecar-fallback-reason: ([^`]+)`", README).group(1)  # type: ignore[union-attr]
    running = await demo(fake, sidecar)
    async with openai_client(running, **{"x-fake-fault": fault}) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="smart", messages=[{"role": "user", "content": "hello"}]
        )
    assert raw.parse().choices[0].message.content == "hello"
    assert (raw.headers["x-sidecar-model"], raw.headers["x-sidecar-fallback-reason"]) == ("gpt-4o-mini", reason)


async def sdk_route(sdk: str, gemini_client: Callable[[str | None], Any]) -> str:
    """The ``x-sidecar-route`` of a chat call to the model ``smart`` by ``sdk``'s client, made with no
    base URL of its own (the environment's), through its raw response."""
    import anthropic
    import openai

    hello = [{"role": "user", "content": "hello"}]
    if sdk == "OpenAI":
        async with sdk_client(openai.AsyncOpenAI, api_key="x") as client:
            raw = await client.chat.completions.with_raw_response.create(model="smart", messages=hello)  # type: ignore[arg-type]
            return raw.headers["x-sidecar-route"]
    if sdk == "Anthropic":
        async with sdk_client(anthropic.AsyncAnthropic, api_key="x") as client:
            answer = await client.messages.with_raw_response.create(model="smart", max_tokens=16, messages=hello)  # type: ignore[arg-type]
            return answer.headers["x-sidecar-route"]
    reply = await gemini_client(None).aio.models.generate_content(model="smart", contents="hello")
    return str(reply.sdk_http_response.headers["x-sidecar-route"])


@pytest.mark.parametrize("sdk", ["OpenAI", "Anthropic", "Gemini"])
async def test_each_sdk_reaches_the_sidecar_by_the_variable_the_readme_sets(
    sdk: str,
    fake: FakeFactory,
    sidecar: SidecarFactory,
    gemini_client: Callable[[str | None], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """README.md's "Point your app at it" row for an SDK names a variable that SDK reads: set as shown
    (with the sidecar's port), a client made without a base URL sends its calls to the sidecar."""
    row = re.search(rf"^\| {sdk}\b[^|]*\| `([A-Z_]+)=http://127\.0\.0\.1:8080([^`]*)`", README, re.M)
    assert row is not None, sdk
    running = await demo(fake, sidecar)
    monkeypatch.setenv(row.group(1), running.url + row.group(2))
    assert await sdk_route(sdk, gemini_client) == "smart"


async def test_the_python_snippet_run_as_the_readme_says_prints_what_it_says(
    fake: FakeFactory, sidecar: SidecarFactory, tmp_path: Path
) -> None:
    """README.md's Python snippet, saved and run with the venv's Python (on the sidecar's port here), prints
    what the text over it says it prints (a newcomer's ``python`` had no openai, or no ``python`` at all)."""
    said = re.search(r"run `\.venv/bin/python hello\.py`;\s+it prints `([^`]+)`", README)
    snippet = re.search(r"```python\n(.*?)```", README, re.S)
    assert said is not None and snippet is not None
    running = await demo(fake, sidecar)
    (tmp_path / "hello.py").write_text(snippet.group(1).replace("http://127.0.0.1:8080", running.url))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "hello.py", cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert (process.returncode, stdout.decode()) == (0, said.group(1) + "\n"), stderr.decode()


def test_the_run_it_for_real_commands_work_in_the_venv_make_run_made(tmp_path: Path) -> None:
    """README.md's "Run it for real" lines, after its ``. .venv/bin/activate`` (the venv whose Python runs
    the tests): its ``cp`` of an example policy of the repository to ``policy.yaml``, validate saying ok
    on it, and run taking the policy as ``--policy`` or ``SIDECAR_POLICY``."""
    block = re.search(r"## Run it for real\n\n```sh\n(.*?)```", README, re.S)
    assert block is not None
    lines = [line.split("#")[0].split() for line in block.group(1).splitlines()]
    assert lines[0] == [".", ".venv/bin/activate"] and lines[1][0] == "cp"
    copied = subprocess.run([*lines[1][:2], str(tmp_path / lines[1][2])], cwd=ROOT, capture_output=True, timeout=60)
    assert copied.returncode == 0, copied.stderr
    command = Path(sys.executable).with_name("llm-sidecar")
    validate = subprocess.run([command, *lines[2][1:]], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert validate.returncode == 0 and validate.stdout.startswith("policy.yaml: ok ("), validate.stderr
    assert lines[3][1:] == ["run", "--policy", "policy.yaml"]
    usage = subprocess.run([command, "run", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "--policy POLICY" in usage and "SIDECAR_POLICY" in " ".join(usage.split())
