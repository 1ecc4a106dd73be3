"""google-genai's chat sessions across dialects: ``chats`` keeps a turn in the history it sends next only
when every streamed fragment has content (``_validate_response``, the Node SDK's ``isValidResponse``), so
a translated stream's last fragment (the finish reason and usage) carries an empty text part, as
Gemini's own last fragment carries content; without it the SDK sent the next turn without the previous
one and the model forgot the conversation."""

from __future__ import annotations

from typing import Any

import pytest

from ..conftest import FakeFactory, SidecarFactory
from .three_dialects import start


@pytest.mark.parametrize("target", ["to-openai", "to-anthropic"])
async def test_a_streamed_chat_turn_is_kept_in_the_history_sent_next(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, target: str
) -> None:
    """Two ``send_message_stream`` turns of one chat towards OpenAI or Anthropic: the SDK's curated history
    drops nothing, and the second request carries the first question and its answer."""
    running, urls = await start(fake, sidecar)
    chat = gemini_client(running.url).aio.chats.create(model=target)
    for question in ("hello one", "hello two"):
        text = "".join([chunk.text or "" async for chunk in await chat.send_message_stream(question)])
        assert text == question
    history = chat.get_history(curated=True)  # one model content per fragment, as from Gemini itself
    assert history == chat.get_history() and [c.role for c in history].count("user") == 2
    dialect = target.removeprefix("to-")
    sent = (await running.fake_requests(urls[dialect]))[-1]["json"]["messages"]
    assert [(m["role"], text_of(m["content"])) for m in sent] == [
        ("user", "hello one"),
        ("assistant", "hello one"),
        ("user", "hello two"),
    ]


def text_of(content: Any) -> str:
    """The text of an OpenAI or Anthropic message's content (a string, or text parts)."""
    return content if isinstance(content, str) else "".join(part["text"] for part in content)
