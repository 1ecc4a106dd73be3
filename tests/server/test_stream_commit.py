"""The stream commit point: failures before content fall back unseen; after it, the SDK raises."""

from __future__ import annotations

import anthropic
import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block


def policy(urls: list[str], speaks: str, idle: float = 5.0) -> str:
    text = "version: 1\ndefaults:\n  resilience: {backoff: {base_s: 0.01, cap_s: 0.02}}\nproviders:\n"
    for i, url in enumerate(urls):
        text += provider_block(f"p{i}", url, speaks) + f"    timeouts: {{idle_s: {idle}, first_byte_s: 2}}\n"
    text += "models:\n" + "".join(f"  m{i}: {{provider: p{i}, model: up{i}}}\n" for i in range(len(urls)))
    text += "routes:\n  - {match: {model: chain}, target: [" + ", ".join(f"m{i}" for i in range(len(urls))) + "]}\n"
    return text


async def openai_stream_text(url: str, fault: str) -> str:
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    try:
        stream = await client.chat.completions.create(
            model="chain",
            messages=[{"role": "user", "content": "a fairly long answer please"}],
            stream=True,
            extra_headers={"x-fake-fault": fault},
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    finally:
        await client.close()


@pytest.mark.parametrize("fault", ["f0:error-event=0", "f0:cut=0", "f0:status=503", "f0:malformed=0"])
async def test_failure_before_content_falls_back_transparently(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str
) -> None:
    """An error before the first content event is invisible: the SDK gets the fallback's full stream."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls, "openai"))
    text = await openai_stream_text(running.url, fault)
    assert "a fairly long answer please" in text


@pytest.mark.parametrize("fault", ["f0:cut=3", "f0:error-event=3"])
async def test_openai_sdk_raises_on_failure_after_commit(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str
) -> None:
    """A stream cut or failing after content has been sent makes the OpenAI SDK raise, not end cleanly."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls, "openai"))
    with pytest.raises(openai.APIError):
        await openai_stream_text(running.url, fault)
    errors = [line for line in running.log_lines() if line.get("event") == "access"]
    assert errors[-1]["outcome"] == "stream_error"


async def test_idle_gap_after_commit_ends_with_an_error(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A stream that stalls mid-answer past idle_s ends with an error the SDK raises."""
    urls = [await fake("f0")]
    running = await sidecar(policy(urls, "openai", idle=0.3))
    with pytest.raises(openai.APIError):
        await openai_stream_text(running.url, "stall-mid=2;for=3")


async def test_anthropic_sdk_raises_on_cut_after_commit(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An Anthropic stream cut after content ends with an error event the Anthropic SDK raises."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls, "anthropic"))
    client = anthropic.AsyncAnthropic(base_url=running.url, api_key="x", max_retries=0)
    with pytest.raises(anthropic.APIError):
        async with client.messages.stream(
            model="chain",
            max_tokens=200,
            messages=[{"role": "user", "content": "long answer please"}],
            extra_headers={"x-fake-fault": "f0:cut=5"},
        ) as stream:
            async for _ in stream.text_stream:
                pass
    await client.close()


async def test_anthropic_overload_event_before_content_falls_back(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Anthropic's overloaded error event right after message_start is retried on the next target."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(policy(urls, "anthropic"))
    client = anthropic.AsyncAnthropic(base_url=running.url, api_key="x", max_retries=0)
    async with client.messages.stream(
        model="chain",
        max_tokens=200,
        messages=[{"role": "user", "content": "still here"}],
        extra_headers={"x-fake-fault": "f0:error-event=1"},
    ) as stream:
        text = "".join([t async for t in stream.text_stream])
    assert "still here" in text
    await client.close()
