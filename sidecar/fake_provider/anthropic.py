"""Anthropic Messages API: ``POST /v1/messages`` (non-stream and stream) and ``/v1/messages/count_tokens``.

Stream event order (named SSE events)::

    message_start
    per content block i: content_block_start (ping after the first), content_block_delta*
                         (text_delta or input_json_delta), content_block_stop
    message_delta (stop_reason, usage: the cumulative counts, output_tokens among them)
    message_stop

The in-stream error is ``event: error`` with ``{"type": "error", "error": {"type": "overloaded_error"}}``.
``max_tokens`` is required, as upstream; with ``thinking`` on the answer starts with a signed thinking
block (streamed as ``thinking_delta`` then ``signature_delta``), and thinking sent back is checked as
Anthropic checks it (``signatures``); a base64 image's ``media_type`` must be one of the four
Anthropic takes (``image/jpeg``, ``image/png``, ``image/gif``, ``image/webp``); a tool's name must match
``^[a-zA-Z0-9_-]{1,128}$``. ``output_config.format``
(or ``output_format``) of type ``json_schema`` asks for JSON. There are no log-probabilities in this API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sidecar.fake_provider import conversation as conv
from sidecar.fake_provider import signatures
from sidecar.fake_provider.openai_chat import quality_headers
from sidecar.fake_provider.replies import (
    Call,
    Frame,
    JsonReply,
    Reply,
    RequestError,
    StreamReply,
    fixed,
    frame,
    optional_int,
    require,
)

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
STREAM_ERROR = frame({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")


IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def _check_images(messages: list[Any]) -> None:
    """Anthropic's validation of base64 image blocks' media types (its 400 message)."""
    allowed = ", ".join(f"'{t}'" for t in IMAGE_TYPES[:-1]) + f" or '{IMAGE_TYPES[-1]}'"
    for i, message in enumerate(messages):
        content = message.get("content")
        for j, block in enumerate(content if isinstance(content, list) else ()):
            source = block.get("source") if isinstance(block, Mapping) and block.get("type") == "image" else None
            if (
                isinstance(source, Mapping)
                and source.get("type") == "base64"
                and source.get("media_type") not in IMAGE_TYPES
            ):
                raise RequestError(
                    f"messages.{i}.content.{j}.image.source.base64.media_type: Input should be {allowed}"
                )


_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}", re.ASCII)
"""The tool names Anthropic takes."""


def prompt_of(body: Mapping[str, Any], *, need_max_tokens: bool = True) -> conv.Prompt:
    """Reduce a Messages request to the neutral prompt; ``RequestError`` when it is invalid."""
    require(body, "model", str)
    messages = require(body, "messages", list)
    if not messages or not all(isinstance(message, Mapping) for message in messages):
        raise RequestError("messages: must be a non-empty list of message objects")
    max_tokens = optional_int(body, "max_tokens")
    if need_max_tokens and max_tokens is None:
        raise RequestError("max_tokens: Field required")
    _check_images(messages)
    user: Mapping[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    content = user.get("content")
    blocks = content if isinstance(content, list) else []
    text = content if isinstance(content, str) else conv.last_text(blocks)
    last = messages[-1]
    results = [
        block
        for block in (last.get("content") if isinstance(last.get("content"), list) else [])
        if isinstance(block, Mapping) and block.get("type") == "tool_result"
    ]
    tool_result = _result_text(results[-1].get("content")) if results and last.get("role") == "user" else None
    tools = tuple(
        conv.ToolSpec(str(tool.get("name", "")), tool.get("input_schema") or {})
        for tool in body.get("tools") or []
        if isinstance(tool, Mapping) and "input_schema" in tool
    )
    for index, tool in enumerate(tools):
        if not _TOOL_NAME.fullmatch(tool.name):
            raise RequestError(f"tools.{index}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
    choice = body.get("tool_choice")
    choice = choice if isinstance(choice, Mapping) else {}
    mode = {"any": "required", "tool": "required", "none": "none"}.get(str(choice.get("type")), "auto")
    chars = conv.text_chars(messages) + conv.text_chars(body.get("system")) + conv.text_chars(tools)
    output = body.get("output_config")
    fmt = output.get("format") if isinstance(output, Mapping) else body.get("output_format")
    schema = fmt.get("schema") if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema" else None
    return conv.Prompt(
        text=text,
        input_tokens=conv.estimate_tokens(chars),
        tools=tools,
        tool_choice=conv.ToolChoice(mode, choice.get("name") if choice.get("type") == "tool" else None),
        tool_result=tool_result,
        max_tokens=max_tokens,
        stop=conv.stop_sequences(body.get("stop_sequences")),
        parallel_calls=choice.get("disable_parallel_tool_use") is not True,
        model=str(body.get("model")),
        json_asked=isinstance(schema, Mapping),
        json_schema=schema if isinstance(schema, Mapping) else None,
    )


def messages(call: Call) -> Reply:
    """``POST /v1/messages``."""
    body = call.body
    prompt = prompt_of(body)
    signatures.check_anthropic(body, body["messages"])
    answer = conv.answer(prompt, call.reply, call.grading(prompt.model, prompt.text))
    headers = quality_headers(answer)
    blocks: list[dict[str, Any]] = [
        {
            "type": "tool_use",
            "id": call.ids.make_id("toolu_01", 22, _BASE62),
            "name": c.name,
            "input": c.arguments,
        }
        for c in answer.calls
    ] or [{"type": "text", "text": answer.text}]
    if signatures.thinking_on(body):
        thought = f"The user asks: {prompt.text[:60]}"
        blocks.insert(
            0, {"type": "thinking", "thinking": thought, "signature": signatures.anthropic_signature(thought)}
        )
    stop = "tool_use" if answer.calls else "max_tokens" if answer.truncated else "end_turn"
    if answer.stop_sequence is not None:
        stop = "stop_sequence"
    usage = {
        "input_tokens": answer.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": answer.output_tokens,
        "service_tier": "standard",
    }
    message = {
        "id": call.ids.make_id("msg_01", 22, _BASE62),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": answer.stop_sequence,
        "usage": usage,
    }
    if not body.get("stream"):
        return JsonReply(message, answer.output_tokens, headers)
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    frames = [_event("message_start", message=start)]
    for index, block in enumerate(blocks):
        block_frames = _block_events(index, block)
        if index == 0:
            block_frames.insert(1, _event("ping"))  # upstream pings right after the first block starts
        frames += block_frames
    delta = {"stop_reason": stop, "stop_sequence": answer.stop_sequence}
    # the cumulative counts Anthropic's message_delta carries (its SDK's ``MessageDeltaUsage``)
    counts = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
    frames.append(_event("message_delta", delta=delta, usage={name: usage[name] for name in counts}))
    frames.append(_event("message_stop"))
    return StreamReply(tuple(frames), fixed(STREAM_ERROR), headers=headers)


def count_tokens(call: Call) -> Reply:
    """``POST /v1/messages/count_tokens``."""
    return JsonReply({"input_tokens": prompt_of(call.body, need_max_tokens=False).input_tokens})


def _block_events(index: int, block: dict[str, Any]) -> list[Frame]:
    if block["type"] == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        frames = [_event("content_block_start", index=index, content_block=start)]
        for piece in conv.split_text(block["thinking"]):
            delta = {"type": "thinking_delta", "thinking": piece}
            frames.append(_event("content_block_delta", conv.estimate_tokens(piece), index=index, delta=delta))
        signed = {"type": "signature_delta", "signature": block["signature"]}
        frames.append(_event("content_block_delta", index=index, delta=signed))
    elif block["type"] == "tool_use":
        frames = [_event("content_block_start", index=index, content_block={**block, "input": {}})]
        for piece in conv.split_json(conv.ToolCall(block["name"], block["input"]).arguments_json):
            delta = {"type": "input_json_delta", "partial_json": piece}
            frames.append(_event("content_block_delta", conv.estimate_tokens(piece), index=index, delta=delta))
    else:
        frames = [_event("content_block_start", index=index, content_block={"type": "text", "text": ""})]
        for piece in conv.split_text(block["text"]):
            delta = {"type": "text_delta", "text": piece}
            frames.append(_event("content_block_delta", conv.estimate_tokens(piece), index=index, delta=delta))
    frames.append(_event("content_block_stop", index=index))
    return frames


def _event(kind: str, tokens: int = 0, **fields: Any) -> Frame:
    return frame({"type": kind, **fields}, event=kind, tokens=tokens)


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return conv.last_text(content)
    return ""
