"""The passthrough as the apps' SDKs use it: calls outside the endpoints the sidecar interprets, made with
the same client as the chat calls, forwarded to the provider the policy names and answered as it answers
(docs/api.md, "Passthrough"). The provider is ``forward_upstream.Recorder``, a real server on loopback
that records what it received."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from ..sdk_clients import openai_client, sdk_client
from .forward_upstream import DOWNLOAD_BYTES, SPEECH_BYTES, Stack


async def test_a_multipart_transcription_reaches_the_provider_with_its_key(stack: Stack) -> None:
    """openai-python's ``audio.transcriptions.create`` (a multipart upload) is answered by the provider, which
    got the sidecar's key in place of the app's and the audio bytes in the multipart body."""
    running, recorder = await stack()
    audio = b"RIFF" + bytes(range(256)) * 40
    async with openai_client(running) as client:
        heard = await client.audio.transcriptions.create(file=("a.wav", audio), model="whisper-1")
    (received,) = recorder.received
    assert heard.text == f"heard {received.size} bytes"
    assert received.headers["authorization"] == "Bearer sk-sidecar-openai"
    assert received.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert audio in received.body


async def test_a_speech_answer_streams_back_byte_for_byte(stack: Stack) -> None:
    """``audio.speech.create`` with ``with_streaming_response``: the provider's binary answer, as sent."""
    running, _ = await stack()
    async with (
        openai_client(running) as client,
        client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input="hi") as r,
    ):
        assert r.headers["content-type"] == "audio/mpeg"
        data = b"".join([chunk async for chunk in r.iter_bytes()])
    assert data == SPEECH_BYTES


async def test_a_moderation_is_answered_by_the_provider(stack: Stack) -> None:
    """``moderations.create``: the provider's answer parsed by the SDK."""
    running, _ = await stack()
    async with openai_client(running) as client:
        moderation = await client.moderations.create(input="hello")
    assert moderation.id == "modr-1" and moderation.results[0].flagged is False


async def test_a_file_uploaded_then_read_back(stack: Stack) -> None:
    """``files.create`` then ``files.content``: the upload reaches the provider whole, the content comes back."""
    running, recorder = await stack()
    data = b'{"custom_id": "1"}\n' * 100
    async with openai_client(running) as client:
        created = await client.files.create(file=("a.jsonl", data), purpose="batch")
        content = await client.files.content(created.id)
    assert created.bytes == recorder.received[0].size and data in recorder.received[0].body
    assert content.content == DOWNLOAD_BYTES


async def test_stored_completions_are_listed_on_a_path_served_for_post(stack: Stack) -> None:
    """``chat.completions.list`` (GET /v1/chat/completions, served for POST): forwarded, not a 405."""
    running, recorder = await stack()
    async with openai_client(running) as client:
        page = await client.chat.completions.list(limit=5)
    assert page.data == []
    assert (recorder.received[0].method, recorder.received[0].query) == ("GET", "limit=5")


async def test_a_stored_response_and_its_input_items_are_read_back(stack: Stack) -> None:
    """openai's ``responses.retrieve`` and ``responses.input_items.list`` (GET under ``/v1/responses``, a
    path served for POST) are forwarded and parsed by the SDK."""
    running, recorder = await stack()
    async with openai_client(running) as client:
        response = await client.responses.retrieve("resp_1")
        items = await client.responses.input_items.list("resp_1", limit=1)
    assert response.id == "resp_1" and [item.id for item in items.data] == ["msg_1"]
    sent = [(each.method, each.path, each.query) for each in recorder.received]
    assert sent == [("GET", "/v1/responses/resp_1", ""), ("GET", "/v1/responses/resp_1/input_items", "limit=1")]


async def test_anthropic_beta_files_are_uploaded_and_listed(stack: Stack) -> None:
    """The Anthropic SDK's ``beta.files.upload`` (multipart) and ``list`` reach its provider with its key
    and the SDK's ``anthropic-beta`` header kept."""
    running, recorder = await stack()
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key") as client:
        beta: Any = ["files-api-2025-04-14"]  # as Anthropic's Files API docs call it
        uploaded = await client.beta.files.upload(file=("notes.txt", b"the notes", "text/plain"), betas=beta)
        listed = await client.beta.files.list(betas=beta)
    assert uploaded.id == "file_a1" and [file.id for file in listed.data] == ["file_a1"]
    upload = recorder.received[0]
    assert upload.method == "POST" and b"the notes" in upload.body
    assert upload.headers["x-api-key"] == "sk-sidecar-anthropic"
    assert {each.headers["anthropic-beta"] for each in recorder.received} == {"files-api-2025-04-14"}


async def test_anthropic_message_batches_are_created_and_retrieved(stack: Stack) -> None:
    """The Anthropic SDK's ``messages.batches.create`` and ``retrieve`` reach its provider with its key and
    ``anthropic-version`` as the SDK sent it."""
    running, recorder = await stack()
    request = {
        "custom_id": "a",
        "params": {"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
    }
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key") as client:
        created = await client.messages.batches.create(requests=[request])  # type: ignore[list-item]
        fetched = await client.messages.batches.retrieve(created.id)
    assert fetched.id == "msgbatch_1" and fetched.processing_status == "in_progress"
    first = recorder.received[0]
    assert first.headers["x-api-key"] == "sk-sidecar-anthropic" and "anthropic-version" in first.headers
    assert b'"custom_id":"a"' in first.body.replace(b" ", b"")


async def test_a_gemini_resumable_upload_goes_through_the_sidecar(
    stack: Stack, gemini_client: Callable[[str | None], Any]
) -> None:
    """google-genai's ``files.upload``: the start's ``x-goog-upload-url`` is made the sidecar's, so the bytes
    too come through it (with the provider's key); then ``files.get`` is forwarded as well."""
    running, recorder = await stack()
    client = gemini_client(running.url)
    uploaded = await client.aio.files.upload(file=__file__, config={"mime_type": "text/plain"})
    got = await client.aio.files.get(name="files/f-1")
    start, upload, get = recorder.received
    assert upload.body == Path(__file__).read_bytes()  # noqa: ASYNC240 - this test's own small file
    assert upload.query == "upload_id=up-1"
    assert {start.headers["x-goog-api-key"], upload.headers["x-goog-api-key"]} == {"g-sidecar"}
    assert uploaded.name == "files/f-1" and got.name == "files/f-1" and get.path.endswith("/files/f-1")


async def test_a_gemini_method_the_sidecar_does_not_interpret_is_forwarded(
    stack: Stack, gemini_client: Callable[[str | None], Any]
) -> None:
    """google-genai's ``batches.create`` (``models/m:batchGenerateContent``, a method on a model path the
    sidecar serves) and ``batches.get`` reach the provider under a passthrough of its version's paths."""
    running, recorder = await stack(passthrough="  - {dialect: gemini, provider: gemini, paths: [/v1beta/, /v1/]}\n")
    client = gemini_client(running.url)
    request = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    created = await client.aio.batches.create(model="m", src=[request], config={"display_name": "nightly"})
    got = await client.aio.batches.get(name=created.name)
    create, get = recorder.received
    assert create.method == "POST" and create.path.endswith("/models/m:batchGenerateContent")
    assert b'"hi"' in create.body and create.headers["x-goog-api-key"] == "g-sidecar"
    assert get.method == "GET" and get.path.endswith("/batches/b-1")
    assert created.name == got.name == "batches/b-1" and got.display_name == "nightly"


async def test_a_provider_error_reaches_the_app_as_the_provider_sent_it(stack: Stack) -> None:
    """A provider's 404 (an unknown file) is the SDK's ``NotFoundError`` with the provider's message."""
    running, _ = await stack()
    async with openai_client(running) as client:
        with pytest.raises(openai.NotFoundError) as raised:
            await client.files.retrieve("file-9")
    assert raised.value.message == "Error code: 404 - no such path /v1/files/file-9"
