"""The official SDKs, pointed at canned bytes: each helper serves ``body`` as the HTTP response to the
SDK's own request (httpx ``MockTransport``) and returns what the SDK parsed from it."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import openai
from google import genai

from sidecar.sse import SSEEvent, SSEParser

from ..sdk_clients import gemini_http_options

SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}


def _transport(body: bytes, headers: dict[str, str], status: int = 200) -> httpx2.Client:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, headers=headers, content=body)

    return httpx2.Client(transport=httpx2.MockTransport(handler))


def openai_client(body: bytes, headers: dict[str, str] = SSE, status: int = 200) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="test",
        base_url="http://sidecar.test/v1",
        http_client=_transport(body, headers, status),
        max_retries=0,
    )


def anthropic_client(body: bytes, headers: dict[str, str] = SSE, status: int = 200) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="test",
        base_url="http://sidecar.test",
        http_client=_transport(body, headers, status),
        max_retries=0,
    )


def gemini_client(body: bytes, headers: dict[str, str] = SSE, status: int = 200) -> genai.Client:
    options = gemini_http_options(base_url="http://sidecar.test", httpx_client=_transport(body, headers, status))
    return genai.Client(api_key="test", http_options=options)


def openai_stream(body: bytes) -> list[Any]:
    """Every chunk openai-python yields for a chat-completions stream served as ``body``."""
    client = openai_client(body)
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    return list(stream)


def openai_final(body: bytes) -> Any:
    """The ``ChatCompletion`` openai-python's stream helper accumulates from ``body``."""
    client = openai_client(body)
    with client.chat.completions.stream(
        model="m", messages=[{"role": "user", "content": "hi"}], stream_options={"include_usage": True}
    ) as stream:
        for _ in stream:
            pass
        return stream.get_final_completion()


def anthropic_final(body: bytes) -> Any:
    """The ``Message`` the Anthropic SDK's stream helper accumulates from ``body``."""
    client = anthropic_client(body)
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as stream:
        for _ in stream:
            pass
        return stream.get_final_message()


def gemini_stream(body: bytes) -> list[Any]:
    """Every ``GenerateContentResponse`` google-genai yields for a stream served as ``body``."""
    client = gemini_client(body)
    return list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))


def events(text: str) -> list[SSEEvent]:
    """Parse SSE text (as a provider sends it) into events."""
    parser = SSEParser()
    return parser.feed(text.encode()) + parser.close()


def render(evs: list[SSEEvent]) -> bytes:
    return b"".join(e.encode() for e in evs)
