"""An upstream error of a status the caller's provider never sends (Anthropic's 529 overloaded, 402
billing) reaches OpenAI and Gemini apps with the status their provider sends for the same condition, so
that their SDK raises the error class it would, and retries what it would (google-genai retries 503, not
529). Found driving the sidecar with the Node SDKs; held here through the Python ones. So does a context
overflow: an OpenAI app gets it with OpenAI's code for it, whichever provider's words said it (wave 33)."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from google.genai import errors

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import openai_client
from .three_dialects import start

CASES = [
    pytest.param("overloaded", 503, "UNAVAILABLE", openai.InternalServerError, id="529 overloaded"),
    pytest.param("quota", 429, "RESOURCE_EXHAUSTED", openai.RateLimitError, id="402 billing"),
]


@pytest.mark.parametrize(("fault", "status", "rpc", "error"), CASES)
async def test_an_openai_app_gets_openais_status_for_anthropics_error(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str, status: int, rpc: str, error: type[Exception]
) -> None:
    """openai-python raises the class OpenAI's own status gives, with that status and Anthropic's message."""
    running, _ = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.APIStatusError) as info:
            await client.chat.completions.create(
                model="to-anthropic",
                messages=[{"role": "user", "content": "x"}],
                extra_headers={"x-fake-fault": fault},
            )
    assert type(info.value) is error
    assert info.value.status_code == status


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("fault", "status", "rpc", "error"), CASES)
async def test_a_gemini_app_gets_geminis_status_for_anthropics_error(
    fake: FakeFactory,
    sidecar: SidecarFactory,
    gemini_client: Any,
    fault: str,
    status: int,
    rpc: str,
    error: type[Exception],
    stream: bool,
) -> None:
    """google-genai gets the status and ``status`` name Gemini sends for the same condition."""
    running, _ = await start(fake, sidecar)
    models = gemini_client(running.url).aio.models
    config: dict[str, Any] = {"http_options": {"headers": {"x-fake-fault": fault}}}
    with pytest.raises(errors.APIError) as info:
        if stream:
            async for _ in await models.generate_content_stream(model="to-anthropic", contents="x", config=config):
                pass
        else:
            await models.generate_content(model="to-anthropic", contents="x", config=config)
    assert (info.value.code, info.value.status) == (status, rpc)


@pytest.mark.parametrize(
    ("model", "words"), [("to-anthropic", "prompt is too long"), ("to-gemini", "The input token count")]
)
async def test_an_openai_app_gets_openais_code_for_another_providers_context_overflow(
    fake: FakeFactory, sidecar: SidecarFactory, model: str, words: str
) -> None:
    """A prompt too long for an Anthropic or Gemini target reaches openai-python as OpenAI's own overflow:
    400 with code ``context_length_exceeded`` (what apps test to shorten the history and ask again),
    the provider's message kept. Before wave 33 the code was the provider's (``invalid_request_error``,
    ``INVALID_ARGUMENT``)."""
    running, _ = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "x"}], extra_headers={"x-fake-fault": "context"}
            )
    assert info.value.code == "context_length_exceeded"
    assert words in info.value.message
