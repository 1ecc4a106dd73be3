"""Walkers that read a request body of one dialect into a ``features.Tally``: plain dict reads, no copies.

One function per body shape (``walker_for`` picks it by dialect and operation):

- ``openai_chat``       /v1/chat/completions: ``messages`` (system/developer, user parts text,
                        image_url, input_audio, file; assistant tool_calls; tool), ``tools`` and legacy
                        ``functions``, ``tool_choice``/``function_call``, ``response_format``,
                        ``max_completion_tokens``/``max_tokens``, ``stream``
- ``openai_responses``  /v1/responses: ``instructions``, ``input`` (a string or items: messages with
                        input_text/input_image/input_file/input_audio parts, function_call,
                        function_call_output), ``tools``, ``tool_choice``, ``text.format``,
                        ``max_output_tokens``, ``stream``
- ``openai_completion`` /v1/completions: ``prompt``, ``max_tokens``, ``stream``
- ``openai_embeddings`` /v1/embeddings: ``input``
- ``anthropic``         /v1/messages and count_tokens: ``system``, ``messages`` (text, image, document,
                        tool_use, tool_result blocks), ``tools``, ``tool_choice`` any/tool,
                        ``output_config.format``/``output_format``, ``max_tokens``, ``stream``
- ``gemini``            generateContent and countTokens (also wrapped in ``generateContentRequest``):
                        ``systemInstruction``, ``contents`` (text, inlineData, fileData, functionCall,
                        functionResponse parts), ``tools``, ``toolConfig`` mode ANY,
                        ``generationConfig`` (maxOutputTokens, responseMimeType, responseSchema); keys
                        in camelCase or snake_case; streaming is in the URL, not the body
- ``gemini_embeddings`` embedContent / batchEmbedContents

The last user message is the last one from the user that carries text (tool results are not the
user's words). Values of an unexpected type are skipped, never raised on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..dialects import Dialect, Operation
from ..dialects.anthropic import bodies as anthropic_bodies
from ..dialects.gemini import bodies as gemini_bodies
from ..dialects.openai import bodies as openai_bodies
from ..dialects.registry import wire

if TYPE_CHECKING:
    from .features import Tally

Walker = Callable[[dict[str, Any], "Tally"], None]


def positive(value: Any) -> int | None:
    """An output maximum as the body gives it: a positive integer, else None (a bool is not one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def output_limit(dialect: Dialect, operation: Operation, body: dict[str, Any]) -> int | None:
    """The request's own output maximum, read from its one field (no walk) by the dialect's
    ``bodies.output_limit``: what a reservation needs when no features were computed
    (``budgets.estimate``); the walkers read it through the same readers."""
    return positive(wire(dialect).bodies.output_limit(body, operation))


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _data_uri_type(url: Any) -> str:
    """``image/png`` from ``data:image/png;base64,...``; empty for other URLs."""
    if isinstance(url, str) and url.startswith("data:"):
        return url[5 : url.find(";", 5, 80)] if ";" in url[:80] else ""
    return ""


# ---------------------------------------------------------------------------------------------------------
# OpenAI


def _openai_parts(content: Any, tally: Tally) -> list[str]:
    """Count an OpenAI message's content (chat or responses parts); return its texts."""
    if isinstance(content, str):
        tally.text(content)
        return [content] if content else []
    texts = []
    for part in _items(content):
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
            data = part.get("file_data") or _dict(part.get("file")).get("file_data")
            tally.media(_data_uri_type(data), "file")
    return texts


def _openai_tools(body: dict[str, Any], tally: Tally) -> None:
    tools = _items(body.get("tools")) or _items(body.get("functions"))
    if tools:
        tally.tools = len(tools)
        tally.structured.append(tools)
    choice = body.get("tool_choice", body.get("function_call"))
    if choice == "required":
        tally.tool_choice_forced = True
    elif isinstance(choice, dict):
        allowed = _dict(choice.get("allowed_tools"))
        kind = choice.get("type")
        forced_mode = (allowed.get("mode") or choice.get("mode")) == "required"
        tally.tool_choice_forced = forced_mode if kind == "allowed_tools" else bool(kind or choice.get("name"))


def openai_chat(body: dict[str, Any], tally: Tally) -> None:
    for message in _items(body.get("messages")):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        tally.messages += 1
        if role in ("system", "developer"):
            tally.messages -= 1
            tally.system.extend(_openai_parts(message.get("content"), tally))
            continue
        texts = _openai_parts(message.get("content"), tally)
        if role == "user" and texts:
            tally.last_user = texts
        for call in _items(message.get("tool_calls")):
            function = _dict(_dict(call).get("function"))
            tally.text(function.get("name"))
            tally.text(function.get("arguments"))
    _openai_tools(body, tally)
    fmt = _dict(body.get("response_format")).get("type")
    tally.json_schema = fmt == "json_schema"
    tally.json_mode = fmt == "json_object"
    tally.output_limit(openai_bodies.output_limit(body, Operation.CHAT))
    tally.stream = body.get("stream") is True


def openai_responses(body: dict[str, Any], tally: Tally) -> None:
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        tally.text(instructions)
        tally.system.append(instructions)
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    for item in _items(items):
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            texts = _openai_parts(item.get("content"), tally)
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
                _openai_parts(output, tally)
            else:
                tally.text(output)
    _openai_tools(body, tally)
    fmt = _dict(_dict(body.get("text")).get("format")).get("type")
    tally.json_schema = fmt == "json_schema"
    tally.json_mode = fmt == "json_object"
    tally.output_limit(openai_bodies.output_limit(body, Operation.RESPONSES))
    tally.stream = body.get("stream") is True


def openai_completion(body: dict[str, Any], tally: Tally) -> None:
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else [p for p in _items(prompt) if isinstance(p, str)]
    for text in prompts:
        tally.text(text)
    tally.messages = len(prompts)
    tally.last_user = prompts[-1:]
    tally.output_limit(openai_bodies.output_limit(body, Operation.TEXT_COMPLETION))
    tally.stream = body.get("stream") is True


def openai_embeddings(body: dict[str, Any], tally: Tally) -> None:
    value = body.get("input")
    for text in [value] if isinstance(value, str) else _items(value):
        tally.text(text)


# ---------------------------------------------------------------------------------------------------------
# Anthropic


def _anthropic_blocks(content: Any, tally: Tally) -> list[str]:
    if isinstance(content, str):
        tally.text(content)
        return [content] if content else []
    texts = []
    for block in _items(content):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            if isinstance(text, str) and text:
                tally.text(text)
                texts.append(text)
        elif kind in ("image", "document"):
            source = _dict(block.get("source"))
            if source.get("type") == "text":
                tally.text(source.get("data"))
            else:
                tally.media(source.get("media_type"), "image" if kind == "image" else "file")
        elif kind == "tool_use":
            tally.text(block.get("name"))
            tally.structured.append(block.get("input"))
        elif kind == "tool_result":
            _anthropic_blocks(block.get("content"), tally)  # the tool's output, not the user's words
        elif kind == "thinking":
            tally.text(block.get("thinking"))
    return texts


def anthropic(body: dict[str, Any], tally: Tally) -> None:
    tally.system.extend(_anthropic_blocks(body.get("system"), tally))
    for message in _items(body.get("messages")):
        if not isinstance(message, dict):
            continue
        tally.messages += 1
        texts = _anthropic_blocks(message.get("content"), tally)
        if message.get("role") == "user" and texts:
            tally.last_user = texts
    tools = _items(body.get("tools"))
    if tools:
        tally.tools = len(tools)
        tally.structured.append(tools)
    tally.tool_choice_forced = _dict(body.get("tool_choice")).get("type") in ("any", "tool")
    fmt = _dict(_dict(body.get("output_config")).get("format")) or _dict(body.get("output_format"))
    tally.json_schema = bool(fmt)
    tally.output_limit(anthropic_bodies.output_limit(body, Operation.CHAT))
    tally.stream = body.get("stream") is True


# ---------------------------------------------------------------------------------------------------------
# Gemini


def _get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _gemini_parts(parts: Any, tally: Tally) -> list[str]:
    texts = []
    for part in _items(parts):
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        if isinstance(text, str):
            if text and not part.get("thought"):
                tally.text(text)
                texts.append(text)
            continue
        inline = _get(part, "inlineData", "inline_data")
        media = inline if isinstance(inline, dict) else _get(part, "fileData", "file_data")
        if isinstance(media, dict):
            tally.media(_get(media, "mimeType", "mime_type"), "file")
            continue
        call = _get(part, "functionCall", "function_call")
        response = _get(part, "functionResponse", "function_response")
        for value in (call, response):
            if isinstance(value, dict):
                tally.text(value.get("name"))
                tally.structured.append(value.get("args", value.get("response")))
    return texts


def _gemini_request(body: dict[str, Any]) -> dict[str, Any]:
    inner = _get(body, "generateContentRequest", "generate_content_request")
    return inner if isinstance(inner, dict) else body


def gemini(body: dict[str, Any], tally: Tally) -> None:
    body = _gemini_request(body)
    system = _get(body, "systemInstruction", "system_instruction")
    if isinstance(system, str):
        tally.text(system)
        tally.system.append(system)
    elif isinstance(system, dict):
        tally.system.extend(_gemini_parts(system.get("parts"), tally))
    contents = body.get("contents")
    for content in [contents] if isinstance(contents, dict) else _items(contents):
        if not isinstance(content, dict):
            continue
        tally.messages += 1
        texts = _gemini_parts(content.get("parts"), tally)
        if content.get("role", "user") == "user" and texts:
            tally.last_user = texts
    tools = _items(body.get("tools"))
    if tools:
        tally.tools = sum(
            len(_items(_get(_dict(t), "functionDeclarations", "function_declarations"))) or 1 for t in tools
        )
        tally.structured.append(tools)
    calling = _dict(
        _get(_dict(_get(body, "toolConfig", "tool_config")), "functionCallingConfig", "function_calling_config")
    )
    tally.tool_choice_forced = str(calling.get("mode", "")).upper() in ("ANY", "VALIDATED")
    config = _dict(_get(body, "generationConfig", "generation_config"))
    tally.json_mode = _get(config, "responseMimeType", "response_mime_type") == "application/json"
    schema = _get(config, "responseSchema", "response_schema")
    tally.json_schema = bool(schema or _get(config, "responseJsonSchema", "response_json_schema"))
    tally.output_limit(gemini_bodies.config_limit(config))


def gemini_embeddings(body: dict[str, Any], tally: Tally) -> None:
    requests = _items(body.get("requests")) or [body]
    for request in requests:
        _gemini_parts(_dict(_dict(request).get("content")).get("parts"), tally)


_WALKERS: dict[tuple[Dialect, Operation], Walker] = {
    (Dialect.OPENAI, Operation.CHAT): openai_chat,
    (Dialect.OPENAI, Operation.RESPONSES): openai_responses,
    (Dialect.OPENAI, Operation.TEXT_COMPLETION): openai_completion,
    (Dialect.OPENAI, Operation.EMBEDDINGS): openai_embeddings,
    (Dialect.ANTHROPIC, Operation.CHAT): anthropic,
    (Dialect.ANTHROPIC, Operation.COUNT_TOKENS): anthropic,
    (Dialect.GEMINI, Operation.CHAT): gemini,
    (Dialect.GEMINI, Operation.GENERATE_CONTENT): gemini,
    (Dialect.GEMINI, Operation.COUNT_TOKENS): gemini,
    (Dialect.GEMINI, Operation.EMBEDDINGS): gemini_embeddings,
}


def walker_for(dialect: Dialect, operation: Operation) -> Walker | None:
    return _WALKERS.get((dialect, operation))
