"""Routing's features read from Gemini bodies (``sidecar/dialects/gemini/features.py``)."""

from __future__ import annotations

import base64
from typing import Any

from sidecar.dialects import Dialect, Operation
from sidecar.routing.documents import FILE_TOKENS, PAGE_TOKENS
from sidecar.routing.features import RequestFeatures, extract_features
from sidecar.routing.tokens import estimate_bytes

from ...routing.pdfs import pdf_base64

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER_TOOL = {"name": "weather", "description": "Weather in a city", "parameters": {"type": "object"}}


def gemini(body: dict[str, Any], stream: bool = False) -> RequestFeatures:
    return extract_features(body, Dialect.GEMINI, Operation.GENERATE_CONTENT, stream=stream)


# --- Gemini ------------------------------------------------------------------------------------------


def test_gemini_contents_system_and_config() -> None:
    """systemInstruction, the last user turn, maxOutputTokens and a JSON response schema are read."""
    f = gemini(
        {
            "systemInstruction": {"parts": [{"text": "You summarize."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "long article"}]},
                {"role": "model", "parts": [{"text": "summary"}]},
                {"role": "user", "parts": [{"text": "shorter please"}]},
            ],
            "generationConfig": {
                "maxOutputTokens": 200,
                "responseMimeType": "application/json",
                "responseSchema": {"type": "OBJECT"},
            },
        },
        stream=True,
    )
    assert (f.system_text, f.last_user_text, f.turns, f.max_output_tokens) == (
        "You summarize.",
        "shorter please",
        3,
        200,
    )
    assert (f.json_mode, f.json_schema, f.stream) == (True, True, True)


def test_gemini_snake_case_media_and_tools() -> None:
    """snake_case keys, inline_data and file_data by MIME type, function declarations and mode ANY."""
    f = gemini(
        {
            "system_instruction": {"parts": [{"text": "sys"}]},
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"inline_data": {"mime_type": "image/png", "data": PNG}},
                        {"file_data": {"mime_type": "audio/mp3", "file_uri": "gs://b/a.mp3"}},
                        {"file_data": {"mime_type": "video/mp4", "file_uri": "gs://b/v.mp4"}},
                        {"text": "what is this?"},
                    ],
                },
                {"role": "model", "parts": [{"function_call": {"name": "f", "args": {"a": 1}}}]},
                {"role": "user", "parts": [{"function_response": {"name": "f", "response": {"ok": True}}}]},
            ],
            "tools": [{"function_declarations": [{"name": "f"}, {"name": "g"}]}],
            "tool_config": {"function_calling_config": {"mode": "any"}},
        }
    )
    assert (f.system_text, f.last_user_text, f.turns) == ("sys", "what is this?", 3)
    assert (f.images, f.audio, f.video, f.tools, f.tool_choice_forced, f.stream) == (1, 1, 1, 2, True, False)


def test_gemini_a_youtube_file_uri_without_a_mime_type_is_a_video() -> None:
    """Gemini takes a YouTube URL as fileData with no mimeType: it is a video (it needs vision), not a file;
    another URL without a type stays a file."""
    f = gemini(
        {
            "contents": [
                {
                    "parts": [
                        {"fileData": {"fileUri": "https://www.youtube.com/watch?v=9hE5-98ZeCg"}},
                        {"file_data": {"file_uri": "https://youtu.be/9hE5-98ZeCg"}},
                        {"fileData": {"fileUri": "https://example.com/report"}},
                        {"text": "Summarize the videos."},
                    ]
                }
            ]
        }
    )
    assert (f.video, f.files, f.images) == (2, 1, 0)


def test_gemini_count_tokens_wrapped_request() -> None:
    """countTokens with a generateContentRequest is read like the request inside it."""
    f = extract_features(
        {"generateContentRequest": {"model": "models/x", "contents": [{"parts": [{"text": "count me"}]}]}},
        Dialect.GEMINI,
        Operation.COUNT_TOKENS,
    )
    assert (f.last_user_text, f.turns) == ("count me", 1)


def test_gemini_a_positive_thinking_budget_or_a_level_asks_for_thinking() -> None:
    """thinkingConfig asks for thinking with a positive thinkingBudget or a thinkingLevel; a budget of 0
    (thinking off) or -1 (the model decides, maybe not at all) does not require a model that thinks."""

    def thinks(config: dict[str, Any]) -> bool:
        body = {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"thinkingConfig": config}}
        return gemini(body).thinking

    assert thinks({"thinkingBudget": 1024}) and thinks({"thinking_budget": 8}) and thinks({"thinkingLevel": "low"})
    assert not thinks({"thinkingBudget": 0}) and not thinks({"thinkingBudget": -1, "includeThoughts": True})


def test_gemini_an_inline_pdf_counts_its_pages_and_an_inline_text_file_its_text() -> None:
    """inlineData of application/pdf counts its pages (PAGE_TOKENS each), of text/plain its text's
    tokens; a fileData PDF (by URI) counts one file's FILE_TOKENS."""
    text = b"The quarterly numbers rose by four percent. " * 200

    def asked(*parts: dict[str, Any]) -> int:
        return gemini({"contents": [{"role": "user", "parts": [*parts, {"text": "summarise"}]}]}).prompt_tokens

    pdf_part = {"inlineData": {"mimeType": "application/pdf", "data": pdf_base64(25)}}
    text_part = {"inline_data": {"mime_type": "text/plain", "data": base64.b64encode(text).decode()}}
    by_uri = {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/report.pdf"}}
    assert asked(pdf_part) - asked() == 25 * PAGE_TOKENS
    assert asked(text_part) - asked() == estimate_bytes(text)
    assert asked(by_uri) - asked() == FILE_TOKENS
