"""The invariants bench/translation_fuzz.py holds a request to: ``answer_problem`` (the app's answer: a 200,
or a documented 4xx in its dialect's error shape; never a 5xx), ``upstream_problems`` (what the provider
received is a body its API takes: the fields it requires, roles in order, every tool result answering a
call) and ``log_problems`` (no error-level line, no traceback)."""

from __future__ import annotations

import json
import re
from typing import Any

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
SIDECAR_REFUSALS = frozenset(
    {
        "untranslatable_request",
        "unsupported_parameter",
        "invalid_type",
        "invalid_json",
        "invalid_request",
        "invalid_model",
    }
)
"""The 4xx codes the sidecar answers for a request it cannot send (docs/api.md, "Errors")."""


def error_code(caller: str, body: Any) -> str:
    """The error's code (OpenAI), type (Anthropic) or ErrorInfo reason (Gemini), or ``?``."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "?"
    if caller == "openai":
        return str(error.get("code") or error.get("type"))
    if caller == "gemini":
        for detail in error.get("details") or ():
            if isinstance(detail, dict) and "reason" in detail:
                return str(detail["reason"])
        return str(error.get("status"))
    return str(error.get("type"))


def error_shape_problem(caller: str, status: int, body: Any) -> str | None:
    """None when ``body`` is an error in the ``caller`` dialect's shape."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return f"not an error envelope: {body!r:.300}"
    if caller == "openai" and not ({"type", "param", "code"} <= set(error)):
        return f"not OpenAI's error shape: {body!r:.300}"
    if caller == "anthropic" and not (body.get("type") == "error" and isinstance(error.get("type"), str)):
        return f"not Anthropic's error shape: {body!r:.300}"
    if caller == "gemini" and not (error.get("code") == status and isinstance(error.get("status"), str)):
        return f"not Gemini's error shape: {body!r:.300}"
    return None


def log_problems(lines: list[dict[str, Any]]) -> list[str]:
    return [
        f"log line at {line.get('level')}: {json.dumps(line)[:600]}"
        for line in lines
        if line.get("level") in ("error", "critical") or "traceback" in line or "exception" in line
    ]


def _texts_ok(parts: list[Any], where: str, out: list[str]) -> None:
    for i, part in enumerate(parts):
        if isinstance(part, dict) and part.get("type") == "text" and not str(part.get("text", "")).strip():
            out.append(f"{where}[{i}]: an empty (or blank) text block")


def openai_problems(body: dict[str, Any]) -> list[str]:
    out: list[str] = []
    messages = body.get("messages")
    if not isinstance(body.get("model"), str) or not isinstance(messages, list) or not messages:
        return [f"model or messages missing: {sorted(body)}"]
    pending: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            out.append(f"messages[{i}].role {role!r}")
        if role == "tool":
            if message.get("tool_call_id") not in pending:
                out.append(f"messages[{i}]: tool_call_id {message.get('tool_call_id')!r} answers no pending call")
            else:
                pending.remove(message["tool_call_id"])
            continue
        if pending:
            out.append(f"messages[{i}]: calls {pending} unanswered before a {role} message")
            pending = []
        for call in message.get("tool_calls") or ():
            pending.append(call.get("id"))
            try:
                json.loads(call["function"]["arguments"])
            except (ValueError, KeyError, TypeError):
                out.append(f"messages[{i}]: tool call arguments not JSON: {call!r:.200}")
        said = message.get("content") not in (None, []) or message.get("tool_calls") or message.get("refusal")
        if role == "assistant" and not said:
            out.append(f"messages[{i}]: an assistant message with neither content nor tool calls")
        if role == "user" and message.get("content") in (None, []):
            out.append(f"messages[{i}]: a user message without content")
    for tool in body.get("tools") or ():
        if not TOOL_NAME.match(str(tool.get("function", {}).get("name"))):
            out.append(f"tool name {tool!r:.100}")
    if "tool_choice" in body and not body.get("tools"):
        out.append("tool_choice without tools")
    return out


def anthropic_problems(body: dict[str, Any]) -> list[str]:
    out: list[str] = []
    messages = body.get("messages")
    if not isinstance(body.get("model"), str) or not isinstance(messages, list) or not messages:
        return [f"model or messages missing: {sorted(body)}"]
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        out.append(f"max_tokens {max_tokens!r}")
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled" and not (1024 <= thinking.get("budget_tokens", 0) < (max_tokens or 0)):
        out.append(f"thinking budget {thinking} with max_tokens {max_tokens}")
    if isinstance(body.get("temperature"), (int, float)) and not 0 <= body["temperature"] <= 1:
        out.append(f"temperature {body['temperature']}")
    system = body.get("system")
    if isinstance(system, list):
        _texts_ok(system, "system", out)
    calls: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant") or (i and role == messages[i - 1].get("role")):
            out.append(f"messages[{i}].role {role!r}: turns must alternate")  # an assistant's may come first
        content = message.get("content")
        if content in ("", []) or content is None:
            out.append(f"messages[{i}]: empty content")
            continue
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if isinstance(content, list) or i < len(messages) - 1:
            _texts_ok(blocks, f"messages[{i}].content", out)
        answered = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if sorted(answered) != sorted(calls):
            out.append(f"messages[{i}]: tool results {answered} do not answer the calls {calls}")
        kinds = [b.get("type") for b in blocks]
        if "tool_result" in kinds and kinds.index("tool_result") > 0 and kinds[0] != "tool_result":
            out.append(f"messages[{i}]: tool results after other content")
        calls = [b.get("id") for b in blocks if b.get("type") == "tool_use"] if role == "assistant" else []
        for block in blocks:
            if block.get("type") == "tool_use" and not TOOL_NAME.match(str(block.get("name"))):
                out.append(f"tool_use name {block.get('name')!r}")
    for tool in body.get("tools") or ():
        if "input_schema" in tool and not isinstance(tool["input_schema"], dict):
            out.append(f"tool schema {tool!r:.100}")
    return out


def gemini_problems(body: dict[str, Any]) -> list[str]:
    out: list[str] = []
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return ["contents missing or empty"]
    calls: list[str] = []
    for i, content in enumerate(contents):
        role, parts = content.get("role"), content.get("parts")
        if role not in ("user", "model") and not (role is None and len(contents) == 1):  # one turn: optional
            out.append(f"contents[{i}].role {role!r}")
        if not isinstance(parts, list) or not parts:
            out.append(f"contents[{i}]: no parts")
            continue
        for j, part in enumerate(parts):
            data = set(part) & {"text", "inlineData", "fileData", "functionCall", "functionResponse"}
            if len(data) != 1:
                out.append(f"contents[{i}].parts[{j}]: {len(data)} data fields: {sorted(part)}")
            if "text" in part and part["text"] == "" and not part.get("thoughtSignature"):
                out.append(f"contents[{i}].parts[{j}]: an empty text part")
        answered = [p["functionResponse"].get("name") for p in parts if "functionResponse" in p]
        if role == "user" and answered and answered != calls:
            out.append(f"contents[{i}]: function responses {answered} do not answer the calls {calls} in order")
        calls = [p["functionCall"].get("name") for p in parts if "functionCall" in p] if role == "model" else []
        if calls and (i == 0 or contents[i - 1].get("role") != "user"):
            out.append(f"contents[{i}]: a function call no user turn precedes")
    system = body.get("systemInstruction")
    if system is not None and not (isinstance(system, dict) and system.get("parts")):
        out.append(f"systemInstruction {system!r:.100}")
    return out


UPSTREAM_CHECKS = {"openai": openai_problems, "anthropic": anthropic_problems, "gemini": gemini_problems}


def upstream_problems(dialect: str, body: Any) -> list[str]:
    """What makes ``body`` (what a provider of ``dialect`` received) one its API refuses."""
    if not isinstance(body, dict):
        return [f"not a JSON object: {body!r:.100}"]
    return UPSTREAM_CHECKS[dialect](body)
