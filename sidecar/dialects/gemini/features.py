"""Routing's feature walkers for Gemini request bodies (``walking.FeatureWalker``; ``WALKERS`` by
operation is the dialect's ``WireDialect.feature_walkers``); keys come in camelCase or snake_case:

- ``generate``    generateContent and countTokens (also wrapped in ``generateContentRequest``):
                  ``systemInstruction``, ``contents`` (text, inlineData, fileData by MIME type, an
                  inline PDF by its pages, a YouTube fileUri without one a video; functionCall,
                  functionResponse parts; thoughts skipped), ``tools``, ``toolConfig`` mode ANY,
                  ``generationConfig`` (maxOutputTokens, responseMimeType, responseSchema,
                  thinkingConfig: a positive thinkingBudget or a thinkingLevel asks for thinking);
                  streaming is in the URL, not the body (routing is told it)
- ``embeddings``  embedContent / batchEmbedContents
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import Operation
from ..walking import FeatureWalker, Tally, items, mapping
from .bodies import config_limit, either


def _parts(parts: Any, tally: Tally) -> list[str]:
    """Count a content's parts; return its texts."""
    texts = []
    for part in items(parts):
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        if isinstance(text, str):
            if text and not part.get("thought"):
                tally.text(text)
                texts.append(text)
            continue
        inline = either(part, "inlineData", "inline_data")
        if isinstance(inline, dict):  # sent inline: a PDF's pages, a text file's text
            tally.document(either(inline, "mimeType", "mime_type"), inline.get("data"))
            continue
        media = either(part, "fileData", "file_data")
        if isinstance(media, dict):
            tally.media(either(media, "mimeType", "mime_type"), _kind(either(media, "fileUri", "file_uri")))
            continue
        call = either(part, "functionCall", "function_call")
        response = either(part, "functionResponse", "function_response")
        for value in (call, response):
            if isinstance(value, dict):
                tally.text(value.get("name"))
                tally.structured.append(value.get("args", value.get("response")))
    return texts


_VIDEO_SITES = ("https://www.youtube.com/", "https://youtube.com/", "https://youtu.be/", "https://m.youtube.com/")


def _kind(uri: Any) -> str:
    """A media part's kind when it names no MIME type: a YouTube URL (which Gemini takes without one)
    is a video, anything else a file."""
    return "video" if isinstance(uri, str) and uri.startswith(_VIDEO_SITES) else "file"


def generate(body: dict[str, Any], tally: Tally) -> None:
    inner = either(body, "generateContentRequest", "generate_content_request")
    if isinstance(inner, dict):
        body = inner
    system = either(body, "systemInstruction", "system_instruction")
    if isinstance(system, str):
        tally.text(system)
        tally.system.append(system)
    elif isinstance(system, dict):
        tally.system.extend(_parts(system.get("parts"), tally))
    contents = body.get("contents")
    for content in [contents] if isinstance(contents, dict) else items(contents):
        if not isinstance(content, dict):
            continue
        tally.messages += 1
        texts = _parts(content.get("parts"), tally)
        if content.get("role", "user") == "user" and texts:
            tally.last_user = texts
    tools = items(body.get("tools"))
    if tools:
        tally.tools = sum(
            len(items(either(mapping(t), "functionDeclarations", "function_declarations"))) or 1 for t in tools
        )
        tally.structured.append(tools)
    calling = mapping(
        either(mapping(either(body, "toolConfig", "tool_config")), "functionCallingConfig", "function_calling_config")
    )
    tally.tool_choice_forced = str(calling.get("mode", "")).upper() in ("ANY", "VALIDATED")
    config = mapping(either(body, "generationConfig", "generation_config"))
    tally.json_mode = either(config, "responseMimeType", "response_mime_type") == "application/json"
    schema = either(config, "responseSchema", "response_schema")
    tally.json_schema = bool(schema or either(config, "responseJsonSchema", "response_json_schema"))
    tally.output_limit(config_limit(config))
    thinking = either(config, "thinkingConfig", "thinking_config")
    if isinstance(thinking, dict):
        budget = either(thinking, "thinkingBudget", "thinking_budget")
        level = either(thinking, "thinkingLevel", "thinking_level")
        tally.thinking = (type(budget) is int and budget > 0) or (isinstance(level, str) and level != "")


def embeddings(body: dict[str, Any], tally: Tally) -> None:
    for request in items(body.get("requests")) or [body]:
        _parts(mapping(mapping(request).get("content")).get("parts"), tally)


WALKERS: Mapping[Operation, FeatureWalker] = {
    Operation.CHAT: generate,
    Operation.GENERATE_CONTENT: generate,
    Operation.COUNT_TOKENS: generate,
    Operation.EMBEDDINGS: embeddings,
}
