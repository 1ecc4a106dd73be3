"""OpenAI chat-completions requests <-> the common form (messages: ``messages``; responses: ``response``).

- ``parse_request``: a ``/v1/chat/completions`` body. ``messages`` are read by ``messages``; each other
  top-level field is a sampling parameter (``_SAMPLING``, with ``logprobs`` and ``top_logprobs``), the
  output maximum, the tools, another setting (``_parse_setting``: stop, stream, ``n``), another feature
  (``_parse_feature``: tool_choice, parallel_tool_calls, response_format, ``reasoning_effort`` minimal
  to high read as a level at Google's thinking budget for it, ``translate.thinking``), ignored (``_IGNORED``,
  listed as dropped) or unsupported. A value equal to its default (``_DEFAULTS``) asks for nothing, whatever the
  target supports.
- ``build_request``: the messages (``messages.build_messages``), the settings (``_build_settings``: the output
  maximum under ``TranslateOptions.openai_max_tokens_field``, sampling, ``logprobs`` written by ``logprobs``;
  ``top_k`` and a thinking budget have no chat-completions form; a level, Gemini 3's ``thinkingLevel``, is
  ``reasoning_effort``), the tools and tool choice (``_build_tools``: several forced names become ``required``
  over those tools only), the response format (``_response_format``), and a stream asks for usage
  (``stream_options.include_usage``).
- ``openai_params``: the request parameters routing reads (``translate.params``).
"""

from __future__ import annotations

from typing import Any

from ...translate.common import ChatRequest, RequestParams, ResponseFormat, ToolChoice
from ...translate.options import Drops, TranslateOptions, TranslationError, name_of
from ...translate.params import caller_name, chat_params, stop_list
from ...translate.thinking import LEVEL_BUDGETS, Thinking
from .logprobs import add_to_request as add_logprobs
from .messages import build_messages, parse_messages

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
_SETTINGS = frozenset(("stop", "stream", "n"))
_FEATURES = frozenset(("tool_choice", "parallel_tool_calls", "response_format", "reasoning_effort"))
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
# Reading


def parse_request(body: dict[str, Any], drops: Drops) -> ChatRequest:
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list):
        raise TranslationError("'messages' must be a list")
    system, messages = parse_messages(raw_messages, drops)
    req: ChatRequest = {"system": system, "messages": messages}
    for key, value in body.items():
        if value is None or key in ("model", "messages", "stream_options"):
            continue
        # the most frequent fields are read here, the rest by one step per kind (a call each)
        if key in _SAMPLING:
            if _DEFAULTS.get(key, ...) != value:
                req[key] = value  # type: ignore[literal-required]
        elif key in ("max_completion_tokens", "max_tokens"):
            req["max_tokens"] = value
        elif key == "tools":
            req["tools"] = _parse_tools(value, drops)
        elif key in _SETTINGS:
            _parse_setting(key, value, req)
        elif key in _FEATURES:
            _parse_feature(key, value, req, drops)
        elif key in _IGNORED:
            drops.ignored(key)
        elif _DEFAULTS.get(key, ...) != value:
            drops.unsupported(key)
    return req


def _parse_setting(key: str, value: Any, req: ChatRequest) -> None:
    """One of the answer's other settings (``_SETTINGS``): stop sequences, stream, the number of choices."""
    if key == "stop":
        req["stop"] = stop_list(value, key, one_string=True)
    elif key == "stream":
        req["stream"] = bool(value)
    elif value != 1:  # n
        req["n"] = value


def _parse_feature(key: str, value: Any, req: ChatRequest, drops: Drops) -> None:
    """One of the other features (``_FEATURES``): the tool choice, the response format, thinking."""
    if key == "tool_choice":
        choice = _parse_tool_choice(value, drops)
        if choice is not None:
            req["tool_choice"] = choice
    elif key == "parallel_tool_calls":
        if value is False:
            req["parallel_tool_calls"] = False
    elif key == "response_format":
        _parse_response_format(value, req, drops)
    elif value in LEVEL_BUDGETS:  # reasoning_effort, minimal to high, on Google's scale
        req["thinking"] = {"budget": LEVEL_BUDGETS[value], "show": False, "param": key, "effort": value}
    elif value == "none":
        drops.ignored(key)
    else:
        drops.unsupported(key)


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


# ---------------------------------------------------------------------------------------------------------
# Writing


def build_request(req: ChatRequest, model: str, drops: Drops, options: TranslateOptions) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "messages": build_messages(req, drops)}
    _build_settings(req, out, drops, options)
    if req.get("tools"):
        _build_tools(req, out)
    fmt = req.get("response_format")
    if fmt is not None:
        out["response_format"] = _response_format(fmt)
    if req.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _build_settings(req: ChatRequest, out: dict[str, Any], drops: Drops, options: TranslateOptions) -> None:
    """The output maximum, sampling, stop sequences and logprobs; ``top_k`` and thinking have no form here."""
    if "max_tokens" in req:
        out[options.openai_max_tokens_field] = req["max_tokens"]
    for key in ("temperature", "top_p", "n", "seed", "presence_penalty", "frequency_penalty", "user", "stop"):
        if key in req:
            out[key] = req[key]
    add_logprobs(req, out)
    if "top_k" in req:
        drops.unsupported(caller_name(req, "top_k"))
    if "thinking" in req:
        _build_thinking(req["thinking"], out, drops)


def _build_thinking(thinking: Thinking, out: dict[str, Any], drops: Drops) -> None:
    """A level (Gemini 3's ``thinkingLevel``) as ``reasoning_effort``; a budget has no form here, and the
    chat completions API returns no thoughts to show."""
    if thinking["effort"] is None:
        drops.unsupported(thinking["param"], "no chat-completions form for a thinking budget")
    elif thinking["show"]:
        drops.unsupported(thinking["param"], "OpenAI's chat completions return no thoughts to include")
    else:
        out["reasoning_effort"] = thinking["effort"]


def _build_tools(req: ChatRequest, out: dict[str, Any]) -> None:
    """``tools``, ``tool_choice`` (several forced names: ``required`` over those tools only) and
    ``parallel_tool_calls``; OpenAI refuses a tool choice or parallel_tool_calls without tools."""
    tools = req["tools"]
    choice = req.get("tool_choice")
    if choice and choice["mode"] == "tool" and len(choice["names"]) > 1:
        tools = [t for t in tools if t["name"] in choice["names"]] or tools
        out["tool_choice"] = "required"
    elif choice and choice["mode"] == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice["names"][0]}}
    elif choice:
        out["tool_choice"] = choice["mode"]
    out["tools"] = [_tool(t) for t in tools]
    if req.get("parallel_tool_calls") is False:
        out["parallel_tool_calls"] = False


def _tool(tool: Any) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool["name"]}
    if tool.get("description"):
        fn["description"] = tool["description"]
    fn["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
    return {"type": "function", "function": fn}


def _response_format(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt["kind"] == "json_object" or not fmt["schema"]:
        return {"type": "json_object"}
    spec: dict[str, Any] = {"name": fmt["name"], "schema": fmt["schema"]}
    if "description" in fmt:
        spec["description"] = fmt["description"]
    if "strict" in fmt:
        spec["strict"] = fmt["strict"]
    return {"type": "json_schema", "json_schema": spec}


def openai_params(body: dict[str, Any]) -> RequestParams:
    return chat_params(body, True)
