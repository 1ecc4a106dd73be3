"""Anthropic messages requests <-> the common form (responses: ``response``).

- ``parse_request`` / ``build_request``: ``/v1/messages`` bodies (top-level ``system`` string or blocks,
  text/image/document/tool_use/tool_result blocks (image and document: ``media``; the other fields of
  text, tool_use and tool_result blocks, listed or refused: ``fields``), tools, tool_choice
  auto/any/tool/none with ``disable_parallel_tool_use``, ``output_config.format``, sampling,
  ``stop_sequences``, ``max_tokens``).
  Built requests alternate roles (consecutive same-role turns merge, tool results first in their user
  turn) and carry structured output as a forced tool named ``RESPONSE_TOOL`` whose input schema is the
  requested schema (a non-object root is wrapped as ``{"value": ...}`` under ``RESPONSE_TOOL_VALUE``).
  Tool-call ids are restricted to Anthropic's ``[A-Za-z0-9_-]`` (same rewrite for the call and its
  result); temperature is clamped to Anthropic's 0..1; a stop sequence of only whitespace, which Anthropic
  refuses, is refused by name (under ``drop`` left out). ``thinking`` (enabled with a budget, or adaptive)
  is read into the common form's ``Thinking`` and written within Anthropic's bounds (``thinking``).
  A ``thread`` (a message thread: the history stays at Anthropic) cannot be translated (``THREAD_REFUSAL``).
  Top-level fields are read as settings or features (``_parse_setting``, ``_parse_feature``) and written
  so (``_build_settings``, ``_build_tools``: tools, tool choice, the output format's forced tool).
"""

from __future__ import annotations

from typing import Any

from ...translate.common import ChatRequest, MediaPart, Message, Part, RequestParams, ResponseFormat, ToolChoice
from ...translate.options import Drops, TranslateOptions, TranslationError, name_of, shown
from ...translate.params import caller_name, chat_params, named, stop_list
from ...translate.parts import (
    RESPONSE_TOOL,
    RESPONSE_TOOL_VALUE,
    check_opening,
    result_text,
    safe_id,
    turns_of,
    unanswered_call,
)
from ...translate.schema import object_schema
from .fields import check_fields, check_message
from .media import read_media
from .thinking import build_thinking, parse_thinking

# the beta's billing and its own retry on another model when one declines: the target bills, and serves
_BILLING = ("billing_policy", "fallback_credit_token", "fallbacks")
_IGNORED = frozenset(
    ("service_tier", "cache_control", "inference_geo", "speed", "diagnostics", "workspace_id", *_BILLING)
)
_TOOL_KEYS = frozenset(("name", "description", "input_schema", "type", "cache_control"))
_TOOL_IGNORED = frozenset(("strict", "eager_input_streaming"))  # a guarantee, a streaming granularity
THREAD_REFUSAL = (
    "'thread': a message thread keeps the conversation at Anthropic, and a threaded turn carries only its new "
    "messages; no other provider can read the rest. Send the whole history instead "
    "(the anthropic SDKs' tool runner: thread=False in Python, thread: false in TypeScript)"
)
"""Why a request with a ``thread`` (Anthropic message threads) cannot be translated, in either
``unsupported`` mode: dropped, the next turn would reach the provider as a lone tool result."""


# ---------------------------------------------------------------------------------------------------------
# Requests


def parse_request(body: dict[str, Any], drops: Drops) -> ChatRequest:
    raw = body.get("messages")
    if not isinstance(raw, list):
        raise TranslationError("'messages' must be a list")
    req: ChatRequest = {
        "system": _parse_system(body.get("system"), drops),
        "messages": _parse_messages(raw, drops),
    }
    for key, value in body.items():
        if value is None or key in ("model", "messages", "system"):
            continue
        if key in _SETTINGS:
            _parse_setting(key, value, req)
        elif key in _FEATURES:
            _parse_feature(key, value, req, drops)
        elif key in _IGNORED:
            drops.ignored(key)
        elif key == "thread":
            raise TranslationError(THREAD_REFUSAL)
        else:
            drops.unsupported(key)
    return req


_SETTINGS = frozenset(("max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "stream", "metadata"))
_FEATURES = frozenset(("tools", "tool_choice", "thinking", "output_config", "output_format"))


def _parse_setting(key: str, value: Any, req: ChatRequest) -> None:
    """One of the answer's settings (``_SETTINGS``): its maximum, sampling, stop sequences, stream, user."""
    if key == "max_tokens":
        req["max_tokens"] = value
    elif key in ("temperature", "top_p", "top_k"):
        req[key] = value  # type: ignore[literal-required]
    elif key == "stop_sequences":
        if stop := stop_list(value, key):
            req["stop"] = stop
            named(req, "stop", key)
    elif key == "stream":
        req["stream"] = bool(value)
    elif key == "metadata" and value.get("user_id"):
        req["user"] = value["user_id"]
        named(req, "user", "metadata.user_id")


def _parse_feature(key: str, value: Any, req: ChatRequest, drops: Drops) -> None:
    """One of the request's features (``_FEATURES``): tools, tool choice, thinking, the output format."""
    if key == "tools":
        req["tools"] = _parse_tools(value, drops)
    elif key == "tool_choice":
        _parse_tool_choice(value, req)
    elif key == "thinking":
        parse_thinking(value, req, drops)
    elif key == "output_config":
        if value.get("format"):
            req["response_format"] = _parse_format(value["format"], drops)
        if value.get("effort"):
            drops.unsupported("output_config.effort")
    elif key == "output_format":
        req["response_format"] = _parse_format(value, drops)


def _parse_system(value: Any, drops: Drops) -> list[str]:
    if not value or isinstance(value, str):
        return [value] if value else []
    texts = []
    for block in value:
        kind = block.get("type")
        if kind != "text":  # Anthropic takes text blocks only there: an image was left out unsaid
            drops.unsupported(f"system.{name_of(kind)}", "a system prompt holds text blocks only")
            continue
        check_fields("text", block, drops)
        texts.append(block.get("text", ""))
    return texts


def _parse_format(value: Any, drops: Drops) -> ResponseFormat:
    if value.get("type") != "json_schema":
        drops.unsupported("output_config.format")
    return {"kind": "json_schema", "schema": value.get("schema"), "name": "response"}


def _parse_messages(raw: list[Any], drops: Drops) -> list[Message]:
    messages: list[Message] = []
    names: dict[str, str] = {}
    for index, m in enumerate(raw):
        if not isinstance(m, dict):
            raise TranslationError(f"messages[{index}]: must be an object, not {shown(m)}")
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise TranslationError(f"messages[{index}].role: must be 'user' or 'assistant', not {shown(role)}")
        if len(m) > 2:  # more than a role and a content: one check in C for the usual message
            check_message(role, m, drops)
        content = m.get("content")
        if isinstance(content, str):
            messages.append({"role": role, "parts": [{"type": "text", "text": content}]})
            continue
        parts: list[Part] = []
        for block in content or ():
            part = _parse_block(block, names, drops)
            if part is not None:
                parts.append(part)
        messages.append({"role": role, "parts": parts})
    return messages


def _parse_block(block: dict[str, Any], names: dict[str, str], drops: Drops) -> Part | None:
    kind = block.get("type")
    check_fields(kind, block, drops)  # cache_control, citations, a direct caller; others by name
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")}
    if kind == "tool_use":
        names[block["id"]] = block["name"]
        args = block.get("input")
        return {
            "type": "tool_call",
            "id": block["id"],
            "name": block["name"],
            "arguments": args if isinstance(args, dict) else {},
        }
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, list):
            if any(b.get("type") != "text" for b in content):
                drops.unsupported("tool_result.content", "only text tool results translate")
            for text_block in content:
                if text_block.get("type") == "text":
                    check_fields("text", text_block, drops)
            content = "".join(b.get("text", "") for b in content if b.get("type") == "text")
        call_id = block.get("tool_use_id", "")
        name = names.get(call_id)
        if name is None:
            raise unanswered_call("tool_result.tool_use_id", call_id)
        return {
            "type": "tool_result",
            "call_id": call_id,
            "name": name,
            "output": content if isinstance(content, str) else "",
            "is_error": bool(block.get("is_error")),
        }
    if kind in ("image", "document"):
        return read_media(kind, block, drops)
    if kind in ("thinking", "redacted_thinking"):
        drops.ignored("thinking")
        return None
    drops.unsupported(f"content.{name_of(kind)}")
    return None


def _parse_tools(value: Any, drops: Drops) -> list[Any]:
    tools = []
    for tool in value:
        kind = tool.get("type")
        if kind not in (None, "custom"):
            drops.unsupported(f"tools.{name_of(kind)}", "server and client-defined Anthropic tools do not translate")
            continue
        if tool.get("cache_control"):
            drops.ignored("cache_control")
        for key in tool.keys() - _TOOL_KEYS:
            if tool[key] is None:
                continue
            if key in _TOOL_IGNORED or _called_directly(key, tool[key]):
                drops.ignored(f"tools.{key}")  # as OpenAI's strict: nothing the model is shown
            else:
                drops.unsupported(f"tools.{key}")  # input_examples, defer_loading...: shown to the model
        tools.append(
            {
                "name": tool["name"],
                "description": tool.get("description"),
                "parameters": tool.get("input_schema"),
            }
        )
    return tools


def _called_directly(key: str, value: Any) -> bool:
    """``allowed_callers`` naming ``direct``: the model may call the tool itself, as another provider's does
    (the others, Anthropic's code execution, have no counterpart); without it the tool has none."""
    return key == "allowed_callers" and isinstance(value, list) and "direct" in value


def _parse_tool_choice(value: Any, req: ChatRequest) -> None:
    kind = value.get("type")
    choice: ToolChoice
    if kind == "tool":
        choice = {"mode": "tool", "names": [value["name"]]}
    elif kind == "any":
        choice = {"mode": "required", "names": []}
    elif kind == "none":
        choice = {"mode": "none", "names": []}
    else:
        choice = {"mode": "auto", "names": []}
    req["tool_choice"] = choice
    if value.get("disable_parallel_tool_use"):
        req["parallel_tool_calls"] = False
        named(req, "parallel_tool_calls", "tool_choice.disable_parallel_tool_use")


def build_request(req: ChatRequest, model: str, drops: Drops, options: TranslateOptions) -> dict[str, Any]:
    system, messages = turns_of(req)
    out: dict[str, Any] = {
        "model": model,
        "max_tokens": options.default_max_tokens if req.get("max_tokens") is None else req["max_tokens"],  # 0 too
        "messages": _build_messages(messages, drops),
    }
    check_opening(req, out["messages"], "Anthropic")
    if system:
        out["system"] = "\n\n".join(system)
    _build_settings(req, out, drops)
    _build_tools(req, out)
    if "thinking" in req:
        may_raise = req.get("max_tokens") is None and options.model_max_output_tokens is None
        build_thinking(req["thinking"], out, drops, may_raise=may_raise)
    return out


def _build_settings(req: ChatRequest, out: dict[str, Any], drops: Drops) -> None:
    """The answer's settings: sampling, stop sequences, stream, user; those Anthropic has not refused."""
    if "temperature" in req:
        out["temperature"] = min(req["temperature"], 1.0)
    for key in ("top_p", "top_k"):
        if key in req:
            out[key] = req[key]
    stop = req.get("stop")
    if stop:
        kept = [s for s in stop if not isinstance(s, str) or s.strip()]
        if len(kept) < len(stop):
            drops.unsupported(caller_name(req, "stop"), "Anthropic takes no stop sequence of only whitespace")
        if kept:
            out["stop_sequences"] = kept
    if req.get("stream"):
        out["stream"] = True
    if req.get("user"):
        out["metadata"] = {"user_id": req["user"]}
    for key in ("n", "seed", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs"):
        if key in req:
            drops.unsupported(caller_name(req, key))


def _build_tools(req: ChatRequest, out: dict[str, Any]) -> None:
    """``tools`` and ``tool_choice``: the caller's, and an output format as a forced tool (``_response_tool``)."""
    tools: list[dict[str, Any]] = []
    for t in req.get("tools", ()):
        tool = {"name": t["name"], "input_schema": object_schema(t["parameters"])}
        if t["description"]:
            tool["description"] = t["description"]
        tools.append(tool)
    choice = _tool_choice(req.get("tool_choice"), tools)
    fmt = req.get("response_format")
    if fmt is not None:
        tools.append(_response_tool(fmt))
        forced = {"type": "tool", "name": tools[-1]["name"]}
        if len(tools) == 1 or (choice is not None and choice["type"] == "none"):
            choice = forced  # no other tool may be called: answer now
        elif choice is None or choice["type"] == "auto":
            choice = {"type": "any"}  # call a real tool, or answer through the answer tool
    if tools:
        out["tools"] = tools
        if choice is not None:
            if req.get("parallel_tool_calls") is False and choice["type"] != "none":
                choice["disable_parallel_tool_use"] = True
            out["tool_choice"] = choice
        elif req.get("parallel_tool_calls") is False:
            out["tool_choice"] = {"type": "auto", "disable_parallel_tool_use": True}


def _tool_choice(choice: ToolChoice | None, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    if choice is None:
        return None
    mode = choice["mode"]
    if mode == "tool":
        if len(choice["names"]) == 1:
            return {"type": "tool", "name": choice["names"][0]}
        kept = [t for t in tools if t["name"] in choice["names"]]
        if kept:
            tools[:] = kept
        return {"type": "any"}
    return {"type": {"required": "any"}.get(mode, mode)}


def _response_tool(fmt: ResponseFormat) -> dict[str, Any]:
    schema = fmt["schema"] or {"type": "object"}
    hint = fmt.get("description") or fmt["name"]
    description = f"Give the final answer ({hint}) by calling this tool; its input is the answer."
    if schema.get("type", "object") == "object":
        return {"name": RESPONSE_TOOL, "description": description, "input_schema": object_schema(schema)}
    wrapped = {"type": "object", "properties": {"value": schema}, "required": ["value"]}
    return {"name": RESPONSE_TOOL_VALUE, "description": description, "input_schema": wrapped}


def _build_messages(messages: Any, drops: Drops) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        blocks = [b for b in (_block(p, drops) for p in m["parts"]) if b is not None]
        if not blocks:
            continue
        if out and out[-1]["role"] == m["role"]:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": m["role"], "content": blocks})
    for msg in out:
        content = msg["content"]
        if msg["role"] == "user" and any(b["type"] == "tool_result" for b in content):
            content.sort(key=lambda b: b["type"] != "tool_result")  # stable: tool results first
    return out


def _block(p: Part, drops: Drops) -> dict[str, Any] | None:
    if p["type"] == "text":
        return {"type": "text", "text": p["text"]} if p["text"] else None
    if p["type"] == "tool_call":
        return {"type": "tool_use", "id": safe_id(p["id"]), "name": p["name"], "input": p["arguments"]}
    if p["type"] == "tool_result":
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": safe_id(p["call_id"]),
            "content": result_text(p["output"]),
        }
        if p["is_error"]:
            block["is_error"] = True
        return block
    if p["type"] == "reasoning":
        return None  # answer-side only: requests never carry reasoning
    return _media_block(p, drops)


def _media_block(p: MediaPart, drops: Drops) -> dict[str, Any] | None:
    media = p["media_type"] or "image/jpeg"
    kind = "document" if media == "application/pdf" else "image" if media.startswith("image/") else None
    if kind is None:
        drops.unsupported("content.media", f"{media} has no Anthropic block")
        return None
    if p["url"] is not None:
        return {"type": kind, "source": {"type": "url", "url": p["url"]}}
    return {"type": kind, "source": {"type": "base64", "media_type": media, "data": p["data"]}}


def anthropic_params(body: dict[str, Any]) -> RequestParams:
    return chat_params(body, False)
