"""An error event inside a 200 stream, before any content, on a route with one target: the app gets the
provider's error of the status the event stands for (docs/resilience.md, "Errors inside a 200 stream"), as
it would had the provider sent that status: an Anthropic ``overloaded_error`` event is a 529
``overloaded_error`` for an Anthropic app and OpenAI's 503 for an OpenAI app. Before 2026-12-08 both got
the sidecar's own 502 ``overloaded``, which their SDKs raise as a plain server error."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import anthropic_client, openai_client

MESSAGES: Any = [{"role": "user", "content": "a fairly long answer please"}]
FAULT = {"x-fake-fault": "f0:error-event=0"}  # the fake Anthropic's `event: error`, `overloaded_error`


def policy(url: str) -> str:
    """One route, ``chain``, with one target speaking Anthropic at ``url``."""
    return (
        "version: 1\ndefaults:\n  resilience: {backoff: {base_s: 0.01, cap_s: 0.02}}\nproviders:\n"
        + provider_block("p0", url, "anthropic")
        + "models:\n  m0: {provider: p0, model: up0}\nroutes:\n  - {match: {model: chain}, target: [m0]}\n"
    )


async def test_an_anthropic_app_gets_the_overload_as_a_529(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An Anthropic app streaming through a one-target route whose provider sends ``overloaded_error``
    before any content raises the SDK's ``OverloadedError`` (529), with the provider's words."""
    running = await sidecar(policy(await fake("f0")))
    async with anthropic_client(running) as claude:
        with pytest.raises(anthropic.APIStatusError) as raised:
            stream = await claude.messages.create(
                model="chain", max_tokens=50, messages=MESSAGES, stream=True, extra_headers=FAULT
            )
            async for _ in stream:
                pass
    assert isinstance(raised.value, anthropic.OverloadedError)
    assert raised.value.status_code == 529
    line = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert (line["status"], line["fallback_reason"]) == (529, "overloaded")


async def test_an_openai_app_routed_to_anthropic_gets_openais_overload(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An OpenAI app whose one target speaks Anthropic gets OpenAI's own overload answer: a 503 of type
    ``service_unavailable_error`` (docs/translation.md, "Errors"), not the sidecar's 502."""
    running = await sidecar(policy(await fake("f0")))
    async with openai_client(running, **FAULT) as client:
        with pytest.raises(openai.InternalServerError) as raised:
            stream = await client.chat.completions.create(model="chain", messages=MESSAGES, stream=True)
            async for _ in stream:
                pass
    assert raised.value.status_code == 503
    body: Any = raised.value.body
    assert body["type"] == "service_unavailable_error"
