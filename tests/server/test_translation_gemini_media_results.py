"""A google-genai app's function result with media (Gemini 3's multimodal function responses: a
``FunctionResponse`` with ``parts`` holding an image the function made,
https://ai.google.dev/gemini-api/docs/function-calling#multimodal) towards OpenAI or Anthropic, through
the SDK: refused by name (``functionResponse.parts``), as an Anthropic tool result with an image is.
Before, the parts were left out silently and the model answered about an image it never saw."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import errors, types

from ..conftest import FakeFactory, SidecarFactory
from .three_dialects import start

CHART = types.FunctionResponsePart(inline_data=types.FunctionResponseBlob(mime_type="image/png", data=b"\x89PNG0"))


def history(*parts: types.FunctionResponsePart) -> list[types.Content]:
    call = types.Part(function_call=types.FunctionCall(name="plot", args={"series": "sales"}))
    result = types.FunctionResponse(name="plot", response={"status": "drawn"}, parts=list(parts) or None)
    return [
        types.Content(role="user", parts=[types.Part(text="plot the sales and describe the chart")]),
        types.Content(role="model", parts=[call]),
        types.Content(role="user", parts=[types.Part(function_response=result)]),
    ]


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_a_function_result_with_media_is_refused_by_name(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """A result carrying an image: a 400 naming ``functionResponse.parts``, nothing sent upstream."""
    running, urls = await start(fake, sidecar)
    with pytest.raises(errors.ClientError) as info:
        await gemini_client(running.url).aio.models.generate_content(model=target, contents=history(CHART))
    assert info.value.code == 400 and "functionResponse.parts" in str(info.value)
    assert await running.fake_requests(urls[target.removeprefix("to-")]) == []


async def test_a_function_result_without_media_still_translates(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """The same result without parts reaches OpenAI as a tool message."""
    running, urls = await start(fake, sidecar)
    await gemini_client(running.url).aio.models.generate_content(model="to-openai", contents=history())
    sent = (await running.fake_requests(urls["openai"]))[-1]["json"]["messages"]
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_1_0", "content": '{"status":"drawn"}'}
