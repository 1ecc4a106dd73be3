"""Adding a dialect is one package plus one line in the registry (docs/dialects.md, "Adding a dialect").

The tests copy the ``sidecar`` package, add the toy dialect's package (``toy_dialect``) as
``sidecar/dialects/toy/``, add its name to ``registry.PACKAGES``, and run that copy (``llm-sidecar
run``) in front of a real HTTP server speaking the toy API. Nothing else in the copy changes: the
policy accepts ``kind: toy`` and ``dialect: [toy]`` (its names come from the registry), and the router,
the upstream client, the relay, the fallback loop, the translation facade, routing's caps and request
features and the cache serve the new dialect from its object.
"""

from __future__ import annotations

import asyncio
import filecmp
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web

from tests.listening import port_zero, wait_ports

from ..sdk_clients import sdk_client

ROOT = Path(__file__).resolve().parents[2]
TOY = Path(__file__).resolve().parent / "toy_dialect"
KEY = "toy-secret-key"
SEEN = web.AppKey("seen", list)

REGISTRY_LINE = (
    'PACKAGES = ("openai", "anthropic", "gemini")\n',
    'PACKAGES = ("openai", "anthropic", "gemini", "toy")\n',
)
"""The one edit outside the new package: the toy's name in the registry's list."""


def add_toy_dialect(workdir: Path) -> Path:
    """A copy of the ``sidecar`` package with the toy dialect added; the directory holding it."""
    package = workdir / "sidecar"
    shutil.copytree(ROOT / "sidecar", package)  # with its bytecode (still valid: copies keep the times)
    shutil.copytree(TOY, package / "dialects" / "toy", ignore=shutil.ignore_patterns("__pycache__"))
    registry = package / "dialects" / "registry.py"
    text = registry.read_text()
    old, new = REGISTRY_LINE
    assert text.count(old) == 1, f"registry.py: {old!r} is not where the docs say"
    registry.write_text(text.replace(old, new))
    return workdir


def changed_files(original: Path, copy: Path) -> list[str]:
    """The files and directories (relative to ``copy``) that differ from ``original`` or are new, bytecode
    left out."""
    found: list[str] = []

    def walk(compared: filecmp.dircmp[str], prefix: str) -> None:
        for name in (*compared.diff_files, *compared.right_only):
            if name != "__pycache__" and not name.endswith(".pyc"):
                found.append(prefix + name)
        for name, sub in compared.subdirs.items():
            if name != "__pycache__":
                walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(original, copy, ignore=["__pycache__"]), "")
    return sorted(found)


async def toy_generate(request: web.Request) -> web.StreamResponse:
    """The toy API (see ``toy_dialect``): echoes the prompt; refuses a call without the key."""
    if request.headers.get("x-toy-key") != KEY:
        return web.json_response({"error": {"message": "bad key", "status": 401}}, status=401)
    body = await request.json()
    request.app[SEEN].append(body)
    text = f"echo: {body['prompt']} ({body['model']})"
    tokens = {"in": 3, "out": 5}
    if not body.get("stream"):
        return web.json_response({"id": "toy-1", "model": body["model"], "text": text, "stop": "end", "tokens": tokens})
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for word in text.split(" "):
        await response.write(b"data: " + orjson.dumps({"text": word + " "}) + b"\n\n")
    await response.write(b"event: done\ndata: " + orjson.dumps({"stop": "end", "tokens": tokens}) + b"\n\n")
    await response.write_eof()
    return response


@pytest.fixture(scope="module")
def seen_bodies() -> list[dict[str, object]]:
    """The bodies the toy upstream received, in order."""
    return []


@pytest.fixture(scope="module")
def toy_upstream(seen_bodies: list[dict[str, object]]) -> Iterator[str]:
    """The toy API on a free loopback port, served from its own thread (one for the module's tests)."""
    app = web.Application()
    app[SEEN] = seen_bodies
    app.router.add_post("/toy/v1/generate", toy_generate)
    runner = web.AppRunner(app, access_log=None)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> int:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return int(runner.addresses[0][1])

    port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture(scope="module")
def sidecar_with_toy(tmp_path_factory: pytest.TempPathFactory, toy_upstream: str) -> Iterator[str]:
    """The copy with the toy dialect, running on a policy whose one model is served by a toy provider."""
    tmp_path = tmp_path_factory.mktemp("toy")
    code = add_toy_dialect(tmp_path / "code")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\n"
        "providers:\n"
        f"  toy-provider: {{kind: toy, base_url: '{toy_upstream}', api_key: {{env: TOY_KEY}}}}\n"
        "models:\n"
        "  toy-model: {provider: toy-provider, model: toy-1}\n"
        "routes:\n"
        "  - name: toy-capped\n"
        "    match: {dialect: [toy], model: capped}\n"
        "    target: toy-model\n"
        "    caps: {max_output_tokens: 7}\n"
        "    cache: {enabled: true, cacheable: always}\n"
        "  - name: toy-long-prompt\n"
        "    match: {dialect: [toy], model: toy-model, features: {prompt_tokens: {gt: 20}}}\n"
        "    target: toy-model\n"
        "  - name: toy-short-prompt\n"
        "    match: {dialect: [toy], model: toy-model}\n"
        "    target: toy-model\n"
    )
    log, ports = tmp_path / "sidecar.err", tmp_path / "sidecar.ports"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports)],
            cwd=code,  # -m puts the working directory first on sys.path: the copy is the one imported
            env={"PATH": "/usr/bin:/bin", "TOY_KEY": KEY, "SIDECAR_LOG_LEVEL": "warning"},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        yield f"http://127.0.0.1:{wait_ports(ports, proc, log)['port']}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_an_openai_sdk_call_is_answered_by_a_toy_provider(sidecar_with_toy: str) -> None:
    """An OpenAI chat call routed to the toy provider is translated both ways (with its key header)."""
    client = sdk_client(openai.AsyncOpenAI, base_url=f"{sidecar_with_toy}/v1", api_key="unused")
    completion = await client.chat.completions.create(
        model="toy-model", messages=[{"role": "user", "content": "hello"}]
    )
    await client.close()
    assert completion.choices[0].message.content == "echo: hello (toy-1)"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        3,
        5,
    )


async def test_an_openai_sdk_stream_is_relayed_from_a_toy_provider(sidecar_with_toy: str) -> None:
    """A streamed OpenAI chat call routed to the toy provider gets the toy stream as OpenAI chunks."""
    client = sdk_client(openai.AsyncOpenAI, base_url=f"{sidecar_with_toy}/v1", api_key="unused")
    stream = await client.chat.completions.create(
        model="toy-model",
        messages=[{"role": "user", "content": "hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        usage = chunk.usage or usage
    await client.close()
    assert text == "echo: hello (toy-1) "
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens == 5


async def test_an_openai_responses_stream_is_translated_from_a_toy_provider(sidecar_with_toy: str) -> None:
    """A streamed Responses API call routed to the toy provider calls the toy's chat, and its stream ends
    as the toy's chat stream ends (the relay asks the toy with the target's operation, not the caller's
    Responses): openai-python's final response is completed with the toy's text and usage."""
    client = sdk_client(openai.AsyncOpenAI, base_url=f"{sidecar_with_toy}/v1", api_key="unused")
    async with client.responses.stream(model="toy-model", input="hello") as stream:
        reply = await stream.get_final_response()
    await client.close()
    assert (reply.status, reply.output_text) == ("completed", "echo: hello (toy-1) ")
    assert reply.usage is not None and reply.usage.output_tokens == 5


async def test_a_toy_caller_is_served_on_the_toy_path(sidecar_with_toy: str) -> None:
    """A caller speaking the toy dialect is routed from the toy endpoint by the model in its body."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sidecar_with_toy}/toy/v1/generate", json={"model": "toy-model", "prompt": "hi"}) as response,
    ):
        assert response.status == 200, await response.text()
        body = await response.json()
    assert body["text"] == "echo: hi (toy-1)"


async def test_a_toy_caller_gets_an_error_in_the_toy_dialect(sidecar_with_toy: str) -> None:
    """A toy caller naming a model the policy lacks is answered with the toy error body."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{sidecar_with_toy}/toy/v1/generate", json={"model": "no-such-model", "prompt": "hi"}
        ) as response,
    ):
        body = await response.json()
    assert response.status == 404
    assert set(body) == {"error"} and set(body["error"]) == {"message", "status"}


def test_the_toy_dialect_is_one_package_and_one_registry_line(tmp_path: Path) -> None:
    """The copy differs from the package only by the toy's package and the registry's list."""
    add_toy_dialect(tmp_path)
    assert changed_files(ROOT / "sidecar", tmp_path / "sidecar") == ["dialects/registry.py", "dialects/toy"]


async def test_a_route_matching_the_toy_dialect_caps_its_output_in_the_toy_field(
    sidecar_with_toy: str, seen_bodies: list[dict[str, object]]
) -> None:
    """A policy route with ``dialect: [toy]`` serves a toy caller and writes its cap as the toy's max_tokens."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sidecar_with_toy}/toy/v1/generate", json={"model": "capped", "prompt": "cap me"}) as response,
    ):
        assert response.status == 200, await response.text()
        assert response.headers["x-sidecar-route"] == "toy-capped"
    assert seen_bodies[-1]["max_tokens"] == 7


async def test_a_toy_answer_is_cached_and_replayed_to_a_toy_caller(
    sidecar_with_toy: str, seen_bodies: list[dict[str, object]]
) -> None:
    """The second identical toy request on a caching route is a hit with the first answer, not an upstream call."""
    request = {"model": "capped", "prompt": "remember me"}
    answers = []
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.post(f"{sidecar_with_toy}/toy/v1/generate", json=request) as response:
                assert response.status == 200, await response.text()
                answers.append((response.headers["x-sidecar-cache"], (await response.json())["text"]))
    assert answers == [("miss", "echo: remember me (toy-1)"), ("hit", "echo: remember me (toy-1)")]
    assert [body["prompt"] for body in seen_bodies].count("remember me") == 1


async def test_a_route_matching_on_features_reads_a_toy_request(sidecar_with_toy: str) -> None:
    """Routes matching ``features: {prompt_tokens: ...}`` see the toy prompt's estimate (the toy walker's)."""
    routes = []
    async with aiohttp.ClientSession() as session:
        for prompt in ("short", "a much longer prompt " * 20):
            request = {"model": "toy-model", "prompt": prompt}
            async with session.post(f"{sidecar_with_toy}/toy/v1/generate", json=request) as response:
                assert response.status == 200, await response.text()
                routes.append(response.headers["x-sidecar-route"])
    assert routes == ["toy-short-prompt", "toy-long-prompt"]
