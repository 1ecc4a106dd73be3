"""Names that are not plain ASCII in the sidecar's response headers: route, model, upstream model and
provider names from the policy, and the parameter names a caller sent, go out percent-encoded (UTF-8),
so that every HTTP client reads the same bytes (Node's and Python's http.client read raw UTF-8 in a
header as Latin-1) and a line break a caller put in a parameter name cannot break the answer."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import openai_client
from .raw import read_response

MODEL = "modèle-été"
ROUTE = "équipe 1%"


def policy(url: str) -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("fournisseur-à", url, "openai")
        + f"models:\n  {MODEL}: {{provider: fournisseur-à, model: gpt-ünï}}\n"
        + f"routes:\n  - name: {ROUTE}\n    match: {{model: {MODEL}}}\n    target: [{MODEL}]\n"
        + "  - {name: lenient, match: {model: lenient}, target: modèle-été, unsupported_params: drop}\n"
    )


async def raw_post(running: RunningSidecar, path: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
    """POST ``body`` over a socket: the status, the response head as sent, its headers (as Latin-1)."""
    address = urlsplit(running.url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    sent = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    replay = asyncio.StreamReader()
    replay.feed_data(sent)
    replay.feed_eof()
    status, headers, _ = await read_response(replay)
    return status, sent.partition(b"\r\n\r\n")[0], headers


@pytest.mark.parametrize("stream", [False, True])
async def test_names_that_are_not_ascii_go_out_percent_encoded(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """Route, model, upstream model and provider names with accents, a space and a '%': the answer's head
    (whole or streamed) is ASCII, and each header percent-decodes to the name."""
    running = await sidecar(policy(await fake("f0")))
    body = f'{{"model": "{MODEL}", "stream": {str(stream).lower()}, "messages": [{{"role": "user", "content": "hi"}}]}}'
    status, head, headers = await raw_post(running, "/v1/chat/completions", body.encode())
    assert status == 200
    assert head.isascii()
    assert headers["x-sidecar-route"] == "%C3%A9quipe%201%25"
    assert unquote(headers["x-sidecar-route"]) == ROUTE
    assert unquote(headers["x-sidecar-model"]) == MODEL
    assert unquote(headers["x-sidecar-upstream-model"]) == "gpt-ünï"
    assert unquote(headers["x-sidecar-provider"]) == "fournisseur-à"


async def test_the_openai_sdk_reads_the_encoded_name(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Through the OpenAI SDK (httpx): the header the app reads percent-decodes to the model's name."""
    running = await sidecar(policy(await fake("f0")))
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}]
        )
    assert unquote(raw.headers["x-sidecar-model"]) == MODEL


@pytest.mark.parametrize(
    ("sent", "shown"), [("réglage", "r%C3%A9glage"), ("a\r\nx-evil: 1", "a%0D%0Ax-evil:%201"), ("a,b", "a%2Cb")]
)
async def test_a_dropped_parameter_name_from_the_caller_is_percent_encoded(
    fake: FakeFactory, sidecar: SidecarFactory, sent: str, shown: str
) -> None:
    """A Gemini caller's unknown field, dropped on a translated route, is named in
    x-sidecar-dropped-params percent-encoded: a line break in it is not a 500, a comma not a second name."""
    running = await sidecar(policy(await fake("f0")))
    body: Any = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], sent: 1}
    status, head, headers = await raw_post(running, "/v1beta/models/lenient:generateContent", orjson.dumps(body))
    assert status == 200 and head.isascii()
    assert headers["x-sidecar-dropped-params"] == shown


async def test_a_rejected_answers_model_and_a_split_arm_are_percent_encoded(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """x-sidecar-gates names the model whose answer a gate rejected, and x-sidecar-split-arm the arm
    (by default its first model), encoded the same way."""
    urls = [await fake("f0", reply="maybe"), await fake("f1", reply="yes")]
    text = "version: 1\nproviders:\n" + "".join(provider_block(f"p{i}", u, "openai") for i, u in enumerate(urls))
    text += "models:\n  modèle,a: {provider: p0, model: up0}\n  m1: {provider: p1, model: up1}\n"
    text += "routes:\n  - name: gated\n    match: {model: gated}\n    target: ['modèle,a', m1]\n"
    text += "    gates: {regex: {pattern: '^(yes|no)$'}}\n"
    text += "  - {name: splitè, match: {model: splitè}, split: {arms: [{target: ['modèle,a'], weight: 1}]}}\n"
    running = await sidecar(text)
    status, _, headers = await raw_post(running, "/v1/chat/completions", orjson.dumps(chat("gated")))
    assert status == 200 and headers["x-sidecar-gates"] == "passed; rejected=mod%C3%A8le%2Ca:regex"
    status, head, headers = await raw_post(running, "/v1/chat/completions", orjson.dumps(chat("splitè")))
    assert status == 200 and head.isascii()
    assert unquote(headers["x-sidecar-split-arm"]) == "modèle,a"


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}
