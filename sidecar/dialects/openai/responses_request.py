"""OpenAI Responses API requests (``POST /v1/responses``) -> the common form (pure): a stateless
request, sent to a target of another dialect as its chat (answers: ``responses_answer``, streams:
``responses_encoder``).

``parse_request`` reads ``input`` and ``instructions`` (``responses_items``; ``instructions`` is the
first system prompt), then each other top-level field:

- ``max_output_tokens``, ``temperature``, ``top_p``, ``top_logprobs``, ``user``, ``stream``,
  ``parallel_tool_calls`` (false only): as chat's equivalents;
- ``tools`` of type ``function`` (``strict`` dropped, listed, as chat's ``function.strict``), ``tool_choice``
  (``auto``/``none``/``required``, one function, ``allowed_tools``), ``text.format`` (``json_schema``,
  ``json_object``; ``text``), ``text.verbosity`` other than ``medium`` (unsupported: no other provider has it),
  ``reasoning.effort`` (as chat's ``reasoning_effort``; a ``reasoning.summary`` asks the thoughts shown),
  ``include: ["message.output_text.logprobs"]`` (chat's ``logprobs``);
- ignored, listed (they do not change what the model writes): ``store`` (OpenAI's default ``true``
  keeps the response at OpenAI for ``previous_response_id``; a target of another dialect keeps nothing, and
  the sidecar serves no retrieval: docs/translation.md), ``metadata``, ``service_tier``,
  ``safety_identifier``, ``prompt_cache_key``, ``prompt_cache_retention``, ``prompt_cache_options``,
  ``stream_options``,
  ``include: ["reasoning.encrypted_content"]`` (reasoning only OpenAI can read: none comes back);
- what names state or work only OpenAI keeps (``previous_response_id``, ``conversation``, ``prompt``,
  ``background: true``, a built-in tool, another ``include`` value): a ``TranslationError`` naming it, in
  either ``unsupported`` mode, as a chat's Anthropic ``thread`` is (the target is skipped);
- any other field: unsupported (``Drops.unsupported``: refused, or dropped and listed, per the policy).
"""

from __future__ import annotations

from typing import Any

from ...translate.common import ChatRequest, ResponseFormat, ToolChoice, ToolDef
from ...translate.options import Drops, TranslationError, name_of, shown
from ...translate.params import named
from ...translate.thinking import LEVEL_BUDGETS
from .responses_items import parse_input

_SAMPLING = frozenset(("temperature", "top_p", "top_logprobs", "user"))
_IGNORED = frozenset(
    (
        "store",
        "metadata",
        "service_tier",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "stream_options",
    )
)
_STATEFUL = {
    "previous_response_id": "a response id names a conversation OpenAI stores",
    "conversation": "a conversation is stored at OpenAI",
    "prompt": "a prompt template is stored at OpenAI",
}
LOGPROBS_INCLUDE = "message.output_text.logprobs"
_OPENAI_REASONING = "reasoning.encrypted_content"
_FEATURES = frozenset(("tools", "tool_choice", "text", "reasoning", "include", "background", "truncation"))


def parse_request(body: dict[str, Any], drops: Drops) -> ChatRequest:
    """A Responses request body in the common form."""
    system, messages = parse_input(body.get("input"), drops)
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise TranslationError(f"'instructions' must be a string, not {shown(instructions)}")
    req: ChatRequest = {"system": [instructions, *system] if instructions else system, "messages": messages}
    for key, value in body.items():
        if value is None or key in ("model", "input", "instructions"):
            continue
        if key in _SAMPLING:
            req[key] = value  # type: ignore[literal-required]
        elif key == "max_output_tokens":
            req["max_tokens"] = value
        elif key in ("stream", "parallel_tool_calls"):
            _parse_switch(key, value, req)
        elif key in _STATEFUL:
            raise TranslationError(f"{key!r}: {_STATEFUL[key]}; only an OpenAI target can take it")
        elif key in _FEATURES:
            _parse_feature(key, value, req, drops)
        elif key in _IGNORED:
            drops.ignored(key)
        else:
            drops.unsupported(key)
    if "top_logprobs" in req and not req.get("logprobs"):  # OpenAI gives none without the include: nothing asked
        del req["top_logprobs"]
        drops.ignored("top_logprobs")
    return req


def _parse_switch(key: str, value: Any, req: ChatRequest) -> None:
    """``stream``; ``parallel_tool_calls`` (``false`` only: ``true`` is every provider's default)."""
    if key == "stream":
        req["stream"] = bool(value)
    elif value is False:
        req["parallel_tool_calls"] = False


def _parse_feature(key: str, value: Any, req: ChatRequest, drops: Drops) -> None:
    """One of the features (``_FEATURES``): tools, their choice, the text format, reasoning, ``include``,
    ``background``, ``truncation``."""
    if key == "tools":
        req["tools"] = [_tool(tool) for tool in value]
    elif key == "tool_choice":
        choice = _tool_choice(value, drops)
        if choice is not None:
            req["tool_choice"] = choice
    elif key == "text":
        _parse_text(value, req, drops)
    elif key == "reasoning":
        _parse_reasoning(value, req, drops)
    elif key == "include":
        _parse_include(value, req, drops)
    elif key == "background":
        if value:
            raise TranslationError("'background': a background response is polled at OpenAI; only an OpenAI target")
    elif value != "disabled":  # truncation: "auto" lets OpenAI drop the conversation's start to fit
        drops.unsupported(key, "only OpenAI truncates the conversation to fit")


def _tool(tool: Any) -> ToolDef:
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind != "function":
        raise TranslationError(
            f"tools: {shown(kind)} is not a function tool (a built-in tool runs at OpenAI, a custom tool takes "
            "free text): only function tools translate"
        )
    return {"name": tool["name"], "description": tool.get("description"), "parameters": tool.get("parameters") or {}}


def _tool_choice(value: Any, drops: Drops) -> ToolChoice | None:
    """``auto``, ``none``, ``required``, one function, or ``allowed_tools`` in mode ``required`` (those tools
    forced, as chat's); ``allowed_tools`` in mode ``auto`` has no form elsewhere (unsupported, as chat's)."""
    if value in ("auto", "none", "required"):
        return {"mode": value, "names": []}
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "function":
        return {"mode": "tool", "names": [value["name"]]}
    if kind == "allowed_tools":
        names = [tool["name"] for tool in value.get("tools") or () if tool.get("type") == "function"]
        if value.get("mode") == "required":
            return {"mode": "tool", "names": names}
        drops.unsupported("tool_choice.allowed_tools", "only mode 'required' translates")
        return None
    raise TranslationError(f"tool_choice: {shown(kind)} chooses a tool OpenAI runs itself; only functions translate")


def _parse_text(value: Any, req: ChatRequest, drops: Drops) -> None:
    """``text``: its ``format`` (json_schema, json_object, text), its ``verbosity``."""
    for key, setting in value.items():
        if key == "format":
            fmt = _text_format(setting, drops)
            if fmt is not None:
                req["response_format"] = fmt
        elif key == "verbosity":
            if setting not in (None, "medium"):
                drops.unsupported("text.verbosity", "only OpenAI's models take a verbosity")
        else:
            drops.unsupported(f"text.{name_of(key)}")


def _text_format(value: Any, drops: Drops) -> ResponseFormat | None:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "json_schema":
        fmt: ResponseFormat = {
            "kind": "json_schema",
            "schema": value.get("schema"),
            "name": value.get("name") or "response",
        }
        if value.get("description"):
            fmt["description"] = value["description"]
        if value.get("strict") is not None:
            fmt["strict"] = bool(value["strict"])
        return fmt
    if kind == "json_object":
        return {"kind": "json_object", "schema": None, "name": "response"}
    if kind != "text":
        drops.unsupported(f"text.format.{name_of(kind)}")
    return None


def _parse_reasoning(value: Any, req: ChatRequest, drops: Drops) -> None:
    """``reasoning.effort`` as chat's ``reasoning_effort`` (``none``: no thinking, dropped, listed); a
    ``summary`` asks for the thoughts (they come back as ``reasoning`` items)."""
    effort = value.get("effort")
    show = value.get("summary") is not None or value.get("generate_summary") is not None
    if effort in LEVEL_BUDGETS:
        req["thinking"] = {"budget": LEVEL_BUDGETS[effort], "show": show, "param": "reasoning.effort", "effort": effort}
    elif effort == "none":
        drops.ignored("reasoning.effort")
    elif effort is not None:
        drops.unsupported("reasoning.effort")
    elif show:
        drops.unsupported("reasoning.summary", "thoughts are shown when reasoning.effort asks for thinking")


def _parse_include(value: Any, req: ChatRequest, drops: Drops) -> None:
    for name in value:
        if name == LOGPROBS_INCLUDE:
            req["logprobs"] = True
            named(req, "logprobs", f"include.{LOGPROBS_INCLUDE}")
        elif name == _OPENAI_REASONING:
            drops.ignored(f"include.{name}")
        else:
            raise TranslationError(f"include: {shown(name)} is of an item OpenAI stores or runs; only an OpenAI target")
