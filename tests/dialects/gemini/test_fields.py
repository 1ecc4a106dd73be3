"""A Gemini caller's content and part fields that translation does not carry
(``sidecar.dialects.gemini.fields``): refused by name under "error" and dropped, listed, under "drop";
the ones that change nothing generated (an answer's thought signature, the app's part metadata, a media
name) listed in either mode. Before 2026-12-06 all of them were left out unsaid."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.dialects import Dialect

from ..named_fields import assert_refused_then_listed, translated

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI
PNG = "iVBORw0KGgo="
QUESTION = {"role": "user", "parts": [{"text": "Weather in Oslo?"}]}
CALL = {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}
RESULT = {"functionResponse": {"name": "get_weather", "response": {"sky": "sunny"}}}


def loop(call: dict[str, Any] = CALL, result: dict[str, Any] = RESULT) -> dict[str, Any]:
    """An app's function-calling turns: its question, the model's call, the call's result."""
    return {"contents": [QUESTION, {"role": "model", "parts": [call]}, {"role": "user", "parts": [result]}]}


def image(**fields: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG}, **fields}]}]}


REFUSED = {
    "contents.x": {"contents": [{**QUESTION, "x": 1}]},
    "parts.x": {"contents": [{"role": "user", "parts": [{"text": "hi", "x": 1}]}]},
    "parts.videoMetadata": image(videoMetadata={"startOffset": "1s"}),
    "inlineData.x": {
        "contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG, "x": 1}}]}]
    },
    "fileData.x": {
        "contents": [{"role": "user", "parts": [{"fileData": {"fileUri": "https://example.com/a.png", "x": 1}}]}]
    },
    "functionCall.partialArgs": loop(
        call={"functionCall": {**CALL["functionCall"], "partialArgs": [{"jsonPath": "$.city"}]}}
    ),
    "functionResponse.scheduling": loop(
        result={"functionResponse": {**RESULT["functionResponse"], "scheduling": "SILENT"}}
    ),
    "systemInstruction.x": {"systemInstruction": {"parts": [{"text": "Be brief."}], "x": 1}, "contents": [QUESTION]},
}


@pytest.mark.parametrize("target", [OAI, ANT])
@pytest.mark.parametrize("name", list(REFUSED))
def test_a_field_with_no_place_is_refused_by_name_or_dropped_and_listed(name: str, target: Dialect) -> None:
    """A content's, part's or part kind's field the target has no place for is refused as
    ``contents.<field>``, ``parts.<field>`` or ``<kind>.<field>`` under "error", listed under "drop"."""
    assert_refused_then_listed(REFUSED[name], GEM, target, name)


@pytest.mark.parametrize("target", [OAI, ANT])
def test_an_answer_sent_back_as_google_genai_echoes_it_is_listed_not_refused(target: Dialect) -> None:
    """A model content as google-genai's chat sends an answer back (a signed call, snake_case keys, a
    streamed call's ``will_continue``) is taken under "error": the signature and the mark are listed; the
    sidecar's own ``skip_thought_signature_validator`` holds no thought and is not."""
    signed = {"function_call": {**CALL["functionCall"], "will_continue": False}, "thought_signature": "CiQBcsjafE9U"}
    skipped = {
        "functionCall": {"name": "get_weather", "args": {}},
        "thoughtSignature": "skip_thought_signature_validator",
    }
    body = loop(call=signed)
    body["contents"][1]["parts"].append(skipped)
    body["contents"][2]["parts"].append(RESULT)
    out, dropped = translated(body, GEM, target)
    assert dropped == ["thoughtSignature", "functionCall.willContinue"]
    assert "Oslo" in str(out)


def test_metadata_and_a_media_name_are_listed_not_refused() -> None:
    """A part's ``partMetadata`` and ``mediaResolution`` and an image's ``display_name`` change nothing
    generated: listed under "error", the image translated."""
    body = image(partMetadata={"source": "scan.png"}, media_resolution={"level": "MEDIA_RESOLUTION_LOW"})
    body["contents"][0]["parts"][0]["inlineData"]["display_name"] = "scan.png"
    out, dropped = translated(body, GEM, OAI)
    assert dropped == ["partMetadata", "mediaResolution", "inlineData.displayName"]
    assert out["messages"][0]["content"][0]["image_url"]["url"] == f"data:image/png;base64,{PNG}"
