"""OpenAI chat-completions requests <-> the common form (responses: ``response``).

- ``parse_request`` / ``build_request``: ``/v1/chat/completions`` bodies (system and developer messages,
  user content parts text/image_url/file, assistant ``tool_calls`` with JSON-string arguments (and a
  ``refusal`` without content as the turn's text), ``tool`` messages, tools, tool_choice,
  parallel_tool_calls, response_format, sampling parameters, stop, stream, ``logprobs`` and
  ``top_logprobs`` (written by ``logprobs``), ``reasoning_effort``
  low/medium/high read as a thinking budget, ``translate.thinking``).
  Built requests put every system prompt in one leading system message, tool results as ``tool``
  messages before the user text of the same turn, arguments as JSON strings, and ask a stream for
  usage (``stream_options.include_usage``).
- ``assistant_message``: one assistant message from common parts (shared with responses).
"""

from __future__ import annotations

from typing import Any

from ...translate.common import ChatRequest, MediaPart, Message, Part, RequestParams, ToolChoice
from ...translate.media import split_data_uri
from ...translate.options import Drops, TranslateOptions, TranslationError, name_of, shown
from ...translate.params import caller_name, chat_params, stop_list
from ...translate.parts import dumps, new_id, parse_arguments, result_text, text_of
from ...translate.thinking import EFFORT_BUDGETS
from .logprobs import add_to_request as add_logprobs

_IGNORED = frozenset(
    (
        "store",
        "metadata",
        "service_tier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "safety_identifier",
    )
)
_ROLES = "must be 'system', 'developer', 'user', 'assistant', 'tool' or 'function'"
_SAMPLING = (
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
    "logprobs",
    "top_logprobs",
)
# Values equal to the default ask for nothing, whatever the target supports.
_DEFAULTS: dict[str, Any] = {
    "logprobs": False,
    "top_logprobs": 0,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "modalities": ["text"],
    "functions": [],
}


# ---------------------------------------------------------------------------------------------------------
# Requests


def parse_request(body: dict[str, Any], drops: Drops) -> ChatRequest:
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list):
        raise TranslationError("'messages' must be a list")
    system, messages = _parse_messages(raw_messages, drops)
    req: ChatRequest = {"system": system, "messages": messages}
    for key, value in body.items():
        if value is None or key in ("model", "messages", "stream_options"):
            continue
        if key in _SAMPLING:
            if _DEFAULTS.get(key, ...) != value:
                req[key] = value  # type: ignore[literal-required]
        elif key in ("max_completion_tokens", "max_tokens"):
            req["max_tokens"] = value
        elif key == "stop":
            req["stop"] = stop_list(value, key, one_string=True)
        elif key == "stream":
            req["stream"] = bool(value)
        elif key == "n":
            if value != 1:
                req["n"] = value
        elif key == "tools":
            req["tools"] = _parse_tools(value, drops)
        elif key == "tool_choice":
            choice = _parse_tool_choice(value, drops)
            if choice is not None:
                req["tool_choice"] = choice
        elif key == "parallel_tool_calls":
            if value is False:
                req["parallel_tool_calls"] = False
        elif key == "response_format":
            _parse_response_format(value, req, drops)
        elif key == "reasoning_effort" and value in EFFORT_BUDGETS:
            req["thinking"] = {"budget": EFFORT_BUDGETS[value], "show": False, "param": key, "effort": value}
        elif key in _IGNORED or (key == "reasoning_effort" and value == "none"):
            drops.ignored(key)
        elif _DEFAULTS.get(key, ...) != value:
            drops.unsupported(key)
    return req


def _parse_messages(raw: list[Any], drops: Drops) -> tuple[list[str], list[Message]]:
    system: list[str] = []
    messages: list[Message] = []
    names: dict[str, str] = {}
    for index, m in enumerate(raw):
        if not isinstance(m, dict):
            raise TranslationError(f"messages[{index}]: must be an object, not {shown(m)}")
        role = m.get("role")
        content = m.get("content")
        if m.get("name") and role not in ("tool", "function"):
            # who said it: no other API has it (a tool result's name, as LangChain writes it, is its call's)
            drops.unsupported("messages.name", "Anthropic and Gemini take no participant names")
        if role == "user":
            messages.append({"role": "user", "parts": _user_parts(content, drops)})
        elif role == "assistant":
            parts: list[Part] = []
            text = _plain_text(content) or _refusal(m)
            if text:
                parts.append({"type": "text", "text": text})
            for call in m.get("tool_calls") or ():
                fn = call.get("function")
                if call.get("type", "function") != "function" or not isinstance(fn, dict):
                    drops.unsupported("tool_calls", "only function tool calls translate")
                    continue
                call_id = call.get("id") or new_id("call_")
                names[call_id] = fn["name"]
                parts.append(
                    {
                        "type": "tool_call",
                        "id": call_id,
                        "name": fn["name"],
                        "arguments": parse_arguments(fn.get("arguments")),
                    }
                )
            if m.get("function_call"):
                drops.unsupported("function_call")
            if parts:
                messages.append({"role": "assistant", "parts": parts})
        elif role == "tool":
            call_id = m.get("tool_call_id") or ""
            result: Part = {
                "type": "tool_result",
                "call_id": call_id,
                "name": names.get(call_id, ""),
                "output": _plain_text(content),
                "is_error": False,
            }
            messages.append({"role": "user", "parts": [result]})
        elif role in ("system", "developer"):
            system.append(_plain_text(content))
        elif role == "function":
            drops.unsupported("messages.function", "legacy function messages")
        else:
            raise TranslationError(f"messages[{index}].role: {_ROLES}, not {shown(role)}")
    return system, messages


def _plain_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or p.get("refusal") or "" for p in content if isinstance(p, dict))
    return ""


def _refusal(message: dict[str, Any]) -> str:
    """An assistant message's ``refusal`` text (structured outputs answer a refusal there, with no content):
    the turn's text, so that the conversation keeps it."""
    refusal = message.get("refusal")
    return refusal if isinstance(refusal, str) else ""


def _user_parts(content: Any, drops: Drops) -> list[Part]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    parts: list[Part] = []
    for p in content or ():
        kind = p.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": p.get("text", "")})
        elif kind == "image_url":
            image = p.get("image_url") or {}
            url = image.get("url", "") if isinstance(image, dict) else str(image)
            if isinstance(image, dict) and image.get("detail", "auto") != "auto":
                drops.ignored("image_url.detail")
            parts.append(_media(url, None))
        elif kind == "file":
            file = p.get("file") or {}
            data = file.get("file_data")
            if not isinstance(data, str) or not data:
                drops.unsupported("file.file_id", "only inline file_data translates")
                continue
            parts.append(_media(data, "application/pdf"))
        else:
            drops.unsupported(f"content.{name_of(kind)}")
    return parts


def _media(url: str, default_type: str | None) -> MediaPart:
    split = split_data_uri(url)
    if split is not None:
        return {"type": "media", "media_type": split[0] or default_type, "data": split[1], "url": None}
    return {"type": "media", "media_type": default_type, "data": None, "url": url}


def _parse_tools(value: Any, drops: Drops) -> list[Any]:
    tools = []
    for tool in value:
        fn = tool.get("function")
        if tool.get("type") != "function" or not isinstance(fn, dict):
            drops.unsupported(f"tools.{name_of(tool.get('type'))}", "only function tools translate")
            continue
        if fn.get("strict"):
            drops.ignored("tools.function.strict")
        tools.append({"name": fn["name"], "description": fn.get("description"), "parameters": fn.get("parameters")})
    return tools


def _parse_tool_choice(value: Any, drops: Drops) -> ToolChoice | None:
    if value in ("auto", "none", "required"):
        return {"mode": value, "names": []}
    if isinstance(value, dict):
        if value.get("type") == "function":
            return {"mode": "tool", "names": [value["function"]["name"]]}
        if value.get("type") == "allowed_tools":
            allowed = value.get("allowed_tools") or {}
            names = [t["function"]["name"] for t in allowed.get("tools", ()) if "function" in t]
            if allowed.get("mode") == "required":
                return {"mode": "tool", "names": names}
            drops.unsupported("tool_choice.allowed_tools", "only mode 'required' translates")
            return None
    drops.unsupported("tool_choice")
    return None


def _parse_response_format(value: Any, req: ChatRequest, drops: Drops) -> None:
    kind = value.get("type")
    if kind == "json_schema":
        spec = value.get("json_schema") or {}
        req["response_format"] = {
            "kind": "json_schema",
            "schema": spec.get("schema"),
            "name": spec.get("name", "response"),
        }
        if spec.get("description"):
            req["response_format"]["description"] = spec["description"]
        if spec.get("strict") is not None:
            req["response_format"]["strict"] = bool(spec["strict"])
    elif kind == "json_object":
        req["response_format"] = {"kind": "json_object", "schema": None, "name": "response"}
    elif kind != "text":
        drops.unsupported(f"response_format.{name_of(kind)}")


def build_request(req: ChatRequest, model: str, drops: Drops, options: TranslateOptions) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if req.get("system"):
        messages.append({"role": "system", "content": "\n\n".join(req["system"])})
    for m in req.get("messages", ()):
        if m["role"] == "assistant":
            messages.append(assistant_message(m["parts"]))
        else:
            _user_messages(m["parts"], messages, drops)
    out: dict[str, Any] = {"model": model, "messages": messages}
    if "max_tokens" in req:
        out[options.openai_max_tokens_field] = req["max_tokens"]
    for key in ("temperature", "top_p", "n", "seed", "presence_penalty", "frequency_penalty", "user", "stop"):
        if key in req:
            out[key] = req[key]
    add_logprobs(req, out)
    if "top_k" in req:
        drops.unsupported(caller_name(req, "top_k"))
    if "thinking" in req:
        drops.unsupported(req["thinking"]["param"], "no chat-completions form for a thinking budget")
    tools = req.get("tools")
    choice = req.get("tool_choice") if tools else None  # OpenAI refuses a tool_choice without tools
    if choice and choice["mode"] == "tool" and len(choice["names"]) > 1 and tools:
        tools = [t for t in tools if t["name"] in choice["names"]] or tools
        out["tool_choice"] = "required"
    elif choice and choice["mode"] == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice["names"][0]}}
    elif choice:
        out["tool_choice"] = choice["mode"]
    if tools:
        out["tools"] = [_tool(t) for t in tools]
        if req.get("parallel_tool_calls") is False:
            out["parallel_tool_calls"] = False
    fmt = req.get("response_format")
    if fmt is not None:
        if fmt["kind"] == "json_object" or not fmt["schema"]:
            out["response_format"] = {"type": "json_object"}
        else:
            spec: dict[str, Any] = {"name": fmt["name"], "schema": fmt["schema"]}
            if "description" in fmt:
                spec["description"] = fmt["description"]
            if "strict" in fmt:
                spec["strict"] = fmt["strict"]
            out["response_format"] = {"type": "json_schema", "json_schema": spec}
    if req.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _tool(tool: Any) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool["name"]}
    if tool.get("description"):
        fn["description"] = tool["description"]
    fn["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
    return {"type": "function", "function": fn}


def assistant_message(parts: list[Part]) -> dict[str, Any]:
    calls = [
        {
            "id": p["id"],
            "type": "function",
            "function": {"name": p["name"], "arguments": dumps(p["arguments"])},
        }
        for p in parts
        if p["type"] == "tool_call"
    ]
    msg: dict[str, Any] = {"role": "assistant", "content": text_of(parts) or None}
    if calls:
        msg["tool_calls"] = calls
    elif msg["content"] is None:
        msg["content"] = ""
    return msg


def _user_messages(parts: list[Part], out: list[dict[str, Any]], drops: Drops) -> None:
    content: list[dict[str, Any]] = []
    for p in parts:
        if p["type"] == "tool_result":
            out.append({"role": "tool", "tool_call_id": p["call_id"], "content": result_text(p["output"])})
        elif p["type"] == "text":
            content.append({"type": "text", "text": p["text"]})
        elif p["type"] == "media":
            item = _media_content(p, drops)
            if item is not None:
                content.append(item)
    if len(content) == 1 and content[0]["type"] == "text":
        out.append({"role": "user", "content": content[0]["text"]})
    elif content:
        out.append({"role": "user", "content": content})


def _media_content(p: MediaPart, drops: Drops) -> dict[str, Any] | None:
    media = p["media_type"] or "image/jpeg"
    url = p["url"] or f"data:{media};base64,{p['data']}"
    if media.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": url}}
    if media == "application/pdf" and p["data"] is not None:
        return {"type": "file", "file": {"file_data": url, "filename": "document.pdf"}}
    drops.unsupported("content.media", f"{media} {'URL' if p['url'] else 'data'} has no chat-completions form")
    return None


def openai_params(body: dict[str, Any]) -> RequestParams:
    return chat_params(body, True)
