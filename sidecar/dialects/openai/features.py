"""Routing's feature walkers for OpenAI request bodies (``walking.FeatureWalker``; ``WALKERS`` by
operation is the dialect's ``WireDialect.feature_walkers``):

- ``chat``        /v1/chat/completions: ``messages`` (``_chat_messages``: system/developer, user parts
                  text, image_url, input_audio, file (``file_data`` read: a PDF's pages); assistant
                  tool_calls; tool), ``tools`` and legacy
                  ``functions``, ``tool_choice``/``function_call``, ``response_format``,
                  ``max_completion_tokens``/``max_tokens``, ``stream``, ``reasoning_effort`` (thinking)
- ``responses``   /v1/responses: ``instructions``, ``input`` (a string or items: messages with
                  input_text/input_image/input_file/input_audio parts, function_call,
                  function_call_output), ``tools``, ``tool_choice``, ``text.format``,
                  ``max_output_tokens``, ``stream``, ``reasoning.effort`` (thinking)
- ``completion``  /v1/completions: ``prompt``, ``max_tokens``, ``stream``
- ``embeddings``  /v1/embeddings: ``input``
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import Operation
from ..walking import FeatureWalker, Tally, data_uri_type, items, mapping
from .bodies import output_limit


def _parts(content: Any, tally: Tally) -> list[str]:
    """Count a message's content (chat or responses parts); return its texts."""
    if isinstance(content, str):
        if not content:
            return []
        tally.text(content)
        return [content]
    texts = []
    for part in items(content):
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text", "refusal"):
            text = part.get("text") or part.get("refusal")
            if isinstance(text, str) and text:
                tally.text(text)
                texts.append(text)
        elif kind in ("image_url", "input_image"):
            tally.media("image")
        elif kind == "input_audio":
            tally.media("audio")
        elif kind in ("file", "input_file"):
            file = part if "file_data" in part else mapping(part.get("file"))
            data = file.get("file_data")
            mime = data_uri_type(data) or _named_type(file.get("filename"))
            if isinstance(data, str) and data:  # sent inline: a PDF's pages, a text file's text
                tally.document(mime, data)
            else:
                tally.media(mime, "file")
    return texts


def _named_type(filename: Any) -> str:
    """A PDF's MIME type when ``filename`` ends in ``.pdf`` (``file_data`` as bare base64), else empty."""
    return "application/pdf" if isinstance(filename, str) and filename.lower().endswith(".pdf") else ""


def _tools(body: dict[str, Any], tally: Tally) -> None:
    tools = body.get("tools")
    if not tools or not isinstance(tools, list):
        tools = body.get("functions")
    if tools and isinstance(tools, list):
        tally.tools = len(tools)
        tally.structured.append(tools)
    choice = body.get("tool_choice", body.get("function_call"))
    if choice == "required":
        tally.tool_choice_forced = True
    elif isinstance(choice, dict):
        allowed = mapping(choice.get("allowed_tools"))
        kind = choice.get("type")
        forced_mode = (allowed.get("mode") or choice.get("mode")) == "required"
        tally.tool_choice_forced = forced_mode if kind == "allowed_tools" else bool(kind or choice.get("name"))


def _options(body: dict[str, Any], tally: Tally, output_format: Any) -> None:
    """What chat and responses share beside the conversation and the output maximum: tools, the
    output format's type, ``stream``."""
    if "tools" in body or "functions" in body or "tool_choice" in body or "function_call" in body:
        _tools(body, tally)
    if output_format == "json_schema":  # the tally's flags start false: set only what holds
        tally.json_schema = True
    elif output_format == "json_object":
        tally.json_mode = True
    if body.get("stream") is True:
        tally.stream = True


def chat(body: dict[str, Any], tally: Tally) -> None:
    messages = body.get("messages")
    if isinstance(messages, list):
        _chat_messages(messages, tally)
    output_format = body.get("response_format")
    _options(body, tally, output_format.get("type") if isinstance(output_format, dict) else None)
    limit = body.get("max_completion_tokens", body.get("max_tokens"))  # ``output_limit``, without the calls
    if type(limit) is int and limit > 0:  # ``Tally.output_limit``: a bool is not one (its type is bool)
        tally.max_output_tokens = limit
    if "reasoning_effort" in body:
        tally.thinking = _thinks(body["reasoning_effort"])


def _chat_messages(messages: list[Any], tally: Tally) -> None:
    """Count a chat's ``messages``: system and developer texts, the turns, the last user message's
    texts, the assistant's tool calls."""
    every_text, turns = tally.texts, 0  # the turns counted here, stored once
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        content = message.get("content")
        if type(content) is str:  # the usual message: its text, without a call per part
            if content:
                every_text.append(content)
                texts = [content]
            else:
                texts = []
        else:
            texts = _parts(content, tally)
        if role == "system" or role == "developer":
            tally.system.extend(texts)
            continue
        turns += 1
        if role == "user" and texts:
            tally.last_user = texts
        calls = message.get("tool_calls")
        if calls:
            for call in items(calls):
                function = mapping(mapping(call).get("function"))
                tally.text(function.get("name"))
                tally.text(function.get("arguments"))
    if turns:
        tally.messages = turns


def _thinks(effort: Any) -> bool:
    """Whether a reasoning effort asks the model to reason: any effort but ``none``."""
    return isinstance(effort, str) and effort != "none"


def responses(body: dict[str, Any], tally: Tally) -> None:
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        tally.text(instructions)
        tally.system.append(instructions)
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [{"role": "user", "content": inputs}]
    for item in items(inputs):
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            texts = _parts(item.get("content"), tally)
            if role in ("system", "developer"):
                tally.system.extend(texts)
                continue
            tally.messages += 1
            if role == "user" and texts:
                tally.last_user = texts
        elif kind in ("function_call", "custom_tool_call"):
            tally.messages += 1
            tally.text(item.get("arguments") or item.get("input"))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            tally.messages += 1
            output = item.get("output")
            if isinstance(output, list):
                _parts(output, tally)
            else:
                tally.text(output)
    _options(body, tally, mapping(mapping(body.get("text")).get("format")).get("type"))
    tally.output_limit(output_limit(body, Operation.RESPONSES))
    tally.thinking = _thinks(mapping(body.get("reasoning")).get("effort"))


def completion(body: dict[str, Any], tally: Tally) -> None:
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else [p for p in items(prompt) if isinstance(p, str)]
    for text in prompts:
        tally.text(text)
    tally.messages = len(prompts)
    tally.last_user = prompts[-1:]
    tally.output_limit(output_limit(body, Operation.TEXT_COMPLETION))
    tally.stream = body.get("stream") is True


def embeddings(body: dict[str, Any], tally: Tally) -> None:
    value = body.get("input")
    for text in [value] if isinstance(value, str) else items(value):
        tally.text(text)


WALKERS: Mapping[Operation, FeatureWalker] = {
    Operation.CHAT: chat,
    Operation.RESPONSES: responses,
    Operation.TEXT_COMPLETION: completion,
    Operation.EMBEDDINGS: embeddings,
}
