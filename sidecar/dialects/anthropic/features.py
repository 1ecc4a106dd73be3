"""Routing's feature walker for Anthropic request bodies (``walking.FeatureWalker``; ``WALKERS`` by
operation is the dialect's ``WireDialect.feature_walkers``): /v1/messages and count_tokens read
``system``, ``messages`` (text, image, document, tool_use, tool_result and thinking blocks; a document's
text, its content blocks, a base64 PDF's pages),
``tools``, ``tool_choice`` any/tool, ``output_config.format``/``output_format``, ``max_tokens``,
``stream``, ``thinking`` (enabled or adaptive).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import Operation
from ..walking import FeatureWalker, Tally, items, mapping
from .bodies import output_limit


def _blocks(content: Any, tally: Tally) -> list[str]:
    """Count a message's content (a string or blocks); return its texts."""
    if isinstance(content, str):
        tally.text(content)
        return [content] if content else []
    texts = []
    for block in items(content):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            if isinstance(text, str) and text:
                tally.text(text)
                texts.append(text)
        elif kind in ("image", "document"):
            _source(mapping(block.get("source")), kind, tally)
        elif kind == "tool_use":
            tally.text(block.get("name"))
            tally.structured.append(block.get("input"))
        elif kind == "tool_result":
            _blocks(block.get("content"), tally)  # the tool's output, not the user's words
        elif kind == "thinking":
            tally.text(block.get("thinking"))
    return texts


def _source(source: dict[str, Any], kind: str, tally: Tally) -> None:
    """Count an image's or a document's source: a document's text or its content blocks' (not the user's
    words), a base64 PDF's pages; an image, or a source sent by reference, as one media part."""
    source_type = source.get("type")
    if source_type == "text":
        tally.text(source.get("data"))
    elif source_type == "content":
        _blocks(source.get("content"), tally)
    elif source_type == "base64" and kind == "document":
        tally.document(source.get("media_type") or "application/pdf", source.get("data"))
    else:
        tally.media(source.get("media_type"), "image" if kind == "image" else "file")


def messages(body: dict[str, Any], tally: Tally) -> None:
    tally.system.extend(_blocks(body.get("system"), tally))
    for message in items(body.get("messages")):
        if not isinstance(message, dict):
            continue
        tally.messages += 1
        texts = _blocks(message.get("content"), tally)
        if message.get("role") == "user" and texts:
            tally.last_user = texts
    tools = items(body.get("tools"))
    if tools:
        tally.tools = len(tools)
        tally.structured.append(tools)
    tally.tool_choice_forced = mapping(body.get("tool_choice")).get("type") in ("any", "tool")
    fmt = mapping(mapping(body.get("output_config")).get("format")) or mapping(body.get("output_format"))
    tally.json_schema = bool(fmt)
    tally.output_limit(output_limit(body, Operation.CHAT))
    tally.stream = body.get("stream") is True
    tally.thinking = mapping(body.get("thinking")).get("type") in ("enabled", "adaptive")


WALKERS: Mapping[Operation, FeatureWalker] = {Operation.CHAT: messages, Operation.COUNT_TOKENS: messages}
