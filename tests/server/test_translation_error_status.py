"""An upstream error of a status the caller's provider never sends (Anthropic's 529 overloaded, 402
billing) reaches OpenAI and Gemini apps with the status their provider sends for the same condition, so
that their SDK raises the error class it would, and retries what it would (google-genai retries 503, not
529). Found driving the sidecar with the Node SDKs; held here through the Python ones. So does a context
overflow: an OpenAI app gets it with OpenAI's code for it, whichever provider's words said it (wave 33),
and since wave 34 every condition (a rate limit, a quota gone, an overload...) in the app's provider's own
type and code, an Anthropic app a context overflow in Anthropic's words, while the access line keeps the
upstream's own code."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google.genai import errors

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
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


OPENAI_CODES = [
    pytest.param("to-anthropic", "quota", openai.RateLimitError, "insufficient_quota", id="anthropic 402 billing"),
    pytest.param("to-gemini", "quota", openai.RateLimitError, "insufficient_quota", id="gemini per-day quota"),
    pytest.param("to-anthropic", "429;after=0.01", openai.RateLimitError, "rate_limit_exceeded", id="anthropic 429"),
    pytest.param("to-gemini", "429;after=0.01", openai.RateLimitError, "rate_limit_exceeded", id="gemini 429"),
    pytest.param("to-anthropic", "overloaded", openai.InternalServerError, "server_is_overloaded", id="anthropic 529"),
    pytest.param("to-gemini", "401", openai.AuthenticationError, "invalid_api_key", id="gemini 401"),
]


@pytest.mark.parametrize(("model", "fault", "error", "code"), OPENAI_CODES)
async def test_an_openai_app_gets_openais_code_for_another_providers_error(
    fake: FakeFactory, sidecar: SidecarFactory, model: str, fault: str, error: type[Exception], code: str
) -> None:
    """openai-python's error carries the ``code`` OpenAI sends for the condition (``insufficient_quota``
    pages a human, ``rate_limit_exceeded`` retries), not the upstream's type or status name (before wave
    34: ``billing_error``, ``RESOURCE_EXHAUSTED``, ``rate_limit_error``...)."""
    running, _ = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.APIStatusError) as info:
            await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "x"}], extra_headers={"x-fake-fault": fault}
            )
    assert type(info.value) is error
    assert info.value.code == code


async def test_an_openai_app_streaming_gets_openais_code_for_another_providers_error_event(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An Anthropic ``overloaded_error`` event in the middle of a stream reaches openai-python's stream as
    OpenAI's ``server_is_overloaded``, Anthropic's message kept (before wave 34 the code was null)."""
    running, _ = await start(fake, sidecar)
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model="to-anthropic",
            messages=[{"role": "user", "content": "x"}],
            stream=True,
            extra_headers={"x-fake-fault": "error-event=6"},  # past the preamble: content reached the app,
        )
        with pytest.raises(openai.APIError) as info:
            async for _ in stream:
                pass
    assert (info.value.code, info.value.message) == ("server_is_overloaded", "Overloaded")


@pytest.mark.parametrize(
    ("fault", "stream", "code"),
    [("quota", False, "billing_error"), ("error-event=6", True, "overloaded_error")],
    ids=["whole", "stream"],
)
async def test_the_access_line_keeps_the_upstreams_own_code(
    fake: FakeFactory, sidecar: SidecarFactory, fault: str, stream: bool, code: str
) -> None:
    """The app got OpenAI's code (``insufficient_quota``, ``server_is_overloaded`` in its stream); the access
    line keeps what Anthropic said (``upstream_error_code``), for the SRE."""
    running, _ = await start(fake, sidecar)
    async with openai_client(running) as client:
        with pytest.raises(openai.APIError):
            answer = await client.chat.completions.create(
                model="to-anthropic",
                messages=[{"role": "user", "content": "x"}],
                stream=stream,
                extra_headers={"x-fake-fault": fault},
            )
            async for _ in answer:  # type: ignore[union-attr]
                pass
    line = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert line["upstream_error_code"] == code


async def anthropic_error(running: RunningSidecar, model: str, fault: str) -> anthropic.APIStatusError:
    """The error the Anthropic SDK raises for a message to ``model`` whose provider answers ``fault``."""
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.APIStatusError) as info:
            await client.messages.create(
                model=model,
                max_tokens=16,
                messages=[{"role": "user", "content": "x"}],
                extra_headers={"x-fake-fault": fault},
            )
    return info.value


@pytest.mark.parametrize("model", ["to-openai", "to-gemini"])
async def test_an_anthropic_app_gets_a_context_overflow_in_anthropics_words(
    fake: FakeFactory, sidecar: SidecarFactory, model: str
) -> None:
    """A prompt too long for an OpenAI or Gemini target reaches the Anthropic SDK as Anthropic words it:
    ``prompt is too long: N tokens > M maximum`` (what Anthropic-based tools parse), the provider's own
    message after it."""
    running, _ = await start(fake, sidecar)
    raised = await anthropic_error(running, model, "context;tokens=130000;max=128000")
    assert type(raised) is anthropic.BadRequestError
    error = raised.body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("prompt is too long: 130000 tokens > 128000 maximum (")


GEMINI_REASONS = [
    pytest.param("to-openai", "429;after=0.01", 429, "RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED", id="openai 429"),
    pytest.param("to-anthropic", "quota", 429, "RESOURCE_EXHAUSTED", "RESOURCE_QUOTA_EXCEEDED", id="anthropic 402"),
    pytest.param("to-openai", "quota", 429, "RESOURCE_EXHAUSTED", "RESOURCE_QUOTA_EXCEEDED", id="openai quota"),
    pytest.param("to-anthropic", "401", 400, "INVALID_ARGUMENT", "API_KEY_INVALID", id="anthropic 401"),
    pytest.param("to-openai", "401", 400, "INVALID_ARGUMENT", "API_KEY_INVALID", id="openai 401"),
]


@pytest.mark.parametrize(("model", "fault", "status", "rpc", "reason"), GEMINI_REASONS)
async def test_a_gemini_app_gets_geminis_reason_for_another_providers_error(
    fake: FakeFactory,
    sidecar: SidecarFactory,
    gemini_client: Any,
    model: str,
    fault: str,
    status: int,
    rpc: str,
    reason: str,
) -> None:
    """google-genai's error carries the status, ``status`` name and ``ErrorInfo`` reason Google's APIs give
    the condition, not the upstream's type (before wave 34: ``rate_limit_exceeded``, ``billing_error``...);
    a key the upstream refused is Gemini's own answer to a bad key, 400 ``INVALID_ARGUMENT`` with
    ``API_KEY_INVALID`` (before wave 36: 401 ``UNAUTHENTICATED``, which Gemini sends for OAuth tokens)."""
    running, _ = await start(fake, sidecar)
    config: dict[str, Any] = {"http_options": {"headers": {"x-fake-fault": fault}}}
    with pytest.raises(errors.APIError) as info:
        await gemini_client(running.url).aio.models.generate_content(model=model, contents="x", config=config)
    assert (info.value.code, info.value.status) == (status, rpc)
    assert [d["reason"] for d in info.value.details["error"]["details"]] == [reason]


ANTHROPIC_STATUSES = [
    pytest.param("to-openai", "quota", 402, "billing_error", anthropic.PaymentRequiredError, id="openai quota"),
    pytest.param("to-gemini", "quota", 402, "billing_error", anthropic.PaymentRequiredError, id="gemini per-day quota"),
    pytest.param("to-openai", "overloaded", 529, "overloaded_error", anthropic.OverloadedError, id="openai 503"),
    pytest.param("to-gemini", "overloaded", 529, "overloaded_error", anthropic.OverloadedError, id="gemini 503"),
]


@pytest.mark.parametrize(("model", "fault", "status", "kind", "error"), ANTHROPIC_STATUSES)
async def test_an_anthropic_app_gets_anthropics_status_for_another_providers_error(
    fake: FakeFactory, sidecar: SidecarFactory, model: str, fault: str, status: int, kind: str, error: type[Exception]
) -> None:
    """The Anthropic SDK gets the status Anthropic sends with the condition's type (its errors page:
    ``billing_error`` 402, ``overloaded_error`` 529) and raises the class that status gives: a quota gone
    its ``PaymentRequiredError``, not a ``RateLimitError`` its retries would wait out (before wave 36 a 429
    ``billing_error``, a pair Anthropic never sends), an overload its ``OverloadedError`` (before: a 503
    ``InternalServerError``)."""
    running, _ = await start(fake, sidecar)
    raised = await anthropic_error(running, model, fault)
    assert type(raised) is error
    assert (raised.status_code, raised.body["error"]["type"]) == (status, kind)  # type: ignore[index]
