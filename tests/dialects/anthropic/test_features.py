"""Routing's features read from Anthropic bodies (``sidecar/dialects/anthropic/features.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.routing.documents import PAGE_TOKENS
from sidecar.routing.features import RequestFeatures, extract_features

from ...routing.pdfs import pdf_base64

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER_TOOL = {"name": "weather", "description": "Weather in a city", "parameters": {"type": "object"}}


def anthropic(body: dict[str, Any]) -> RequestFeatures:
    return extract_features(body, Dialect.ANTHROPIC, Operation.CHAT)


# --- Anthropic ---------------------------------------------------------------------------------------


def test_anthropic_system_blocks_and_last_user() -> None:
    """A system given as blocks is the system text; tool_result turns are not the last user message."""
    f = anthropic(
        {
            "system": [{"type": "text", "text": "You classify tickets."}],
            "messages": [
                {"role": "user", "content": "Ticket: printer on fire"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": 1}}],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "found"}]},
            ],
            "max_tokens": 1024,
        }
    )
    assert (f.system_text, f.last_user_text, f.turns, f.max_output_tokens) == (
        "You classify tickets.",
        "Ticket: printer on fire",
        3,
        1024,
    )


def test_anthropic_image_and_pdf_document() -> None:
    """image blocks are images, a base64 PDF document is a file, a text document is text."""
    f = anthropic(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                        {
                            "type": "document",
                            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                        },
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
                        {"type": "text", "text": "compare them"},
                    ],
                }
            ],
            "max_tokens": 10,
        }
    )
    assert (f.images, f.files, f.last_user_text) == (1, 1, "compare them")


@pytest.mark.parametrize(
    ("choice", "forced"), [({"type": "auto"}, False), ({"type": "any"}, True), ({"type": "tool", "name": "x"}, True)]
)
def test_anthropic_tool_choice_forced(choice: dict[str, Any], forced: bool) -> None:
    """tool_choice any and tool force a tool call; auto does not."""
    f = anthropic(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "x", "input_schema": {"type": "object"}}],
            "tool_choice": choice,
            "max_tokens": 5,
        }
    )
    assert (f.tools, f.tool_choice_forced) == (1, forced)


def test_anthropic_output_format_and_stream() -> None:
    """output_config.format asks for JSON with a schema; stream: true is streaming."""
    f = anthropic(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
            "max_tokens": 5,
            "stream": True,
        }
    )
    assert (f.json_mode, f.json_schema, f.stream) == (True, True, True)


@pytest.mark.parametrize(
    ("thinking", "thinks"),
    [({"type": "enabled", "budget_tokens": 2048}, True), ({"type": "adaptive"}, True), ({"type": "disabled"}, False)],
)
def test_anthropic_thinking_enabled_or_adaptive_asks_for_thinking(thinking: dict[str, Any], thinks: bool) -> None:
    """``thinking`` enabled or adaptive asks the model to think; disabled does not."""
    f = anthropic({"max_tokens": 4096, "messages": [{"role": "user", "content": "hi"}], "thinking": thinking})
    assert f.thinking is thinks


def test_anthropic_documents_count_a_pdfs_pages_and_a_content_documents_text() -> None:
    """A base64 PDF document counts its pages (PAGE_TOKENS each), a document of content blocks its
    texts as a text document does, neither being the user's words."""
    question = {"type": "text", "text": "summarise"}
    pdf_block = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": pdf_base64(40)},
    }
    text = "The quarterly numbers rose by four percent. " * 200
    content_block = {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": text}]}}
    asked = anthropic({"messages": [{"role": "user", "content": [question]}], "max_tokens": 10})
    with_pdf = anthropic({"messages": [{"role": "user", "content": [pdf_block, question]}], "max_tokens": 10})
    with_text = anthropic({"messages": [{"role": "user", "content": [content_block, question]}], "max_tokens": 10})
    assert (with_pdf.files, with_pdf.prompt_tokens - asked.prompt_tokens) == (1, 40 * PAGE_TOKENS)
    text_source = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}
    as_text = anthropic({"messages": [{"role": "user", "content": [text_source, question]}], "max_tokens": 10})
    assert with_text.prompt_tokens == as_text.prompt_tokens > asked.prompt_tokens + 1000
    assert with_pdf.last_user_text == with_text.last_user_text == "summarise"
