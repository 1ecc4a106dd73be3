"""Gemini generateContent requests <-> the common form (responses: ``response``).

- ``parse_request`` / ``build_request``: ``models/{model}:generateContent`` bodies. The model and
  streaming are in the URL path, never in the body. camelCase and snake_case keys are both read.
  Each top-level field is read by its own step:

  ``contents``           the turns, by ``contents`` (tool-call ids, function responses, signatures)
  ``systemInstruction``  the system prompts (``_parse_system``)
  ``tools``              ``functionDeclarations`` by ``declarations`` (a result schema is refused by name),
                         written by ``_build_tools`` (schemas through ``schema.to_gemini``)
  ``toolConfig``         ``functionCallingConfig`` <-> the tool choice (``_parse_tool_config``,
                         ``_build_tools``); Gemini cannot forbid parallel calls; what only server-side
                         tools read ignored (listed), other fields refused
  ``generationConfig``   settings, thinking, logprobs and the response format, by ``generation``
  ``safetySettings``     unsupported when not empty; ``labels``, ``serviceTier``, ``store`` ignored
                         (listed); ``continuationToken`` never translated (``CONTINUATION_REFUSAL``);
                         any other field unsupported (``_parse_other``)
"""

from __future__ import annotations

from typing import Any

from ...translate.common import ChatRequest, RequestParams, ToolChoice
from ...translate.options import Drops, TranslateOptions, TranslationError, name_of
from ...translate.params import caller_name, integer, named, number, stops
from ...translate.parts import check_opening, turns_of
from ...translate.schema import to_gemini
from .contents import build_contents, parse_contents
from .declarations import parse_tools
from .fields import check_content, check_part
from .generation import build_config, parse_config
from .keys import camel

_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}
_IGNORED = frozenset(("labels", "serviceTier", "store"))  # billing labels, a latency tier, logging
# what only Gemini's server-side tools read (their results shown, a place to ground in): the tools are refused
_TOOL_CONFIG_IGNORED = frozenset(("includeServerSideToolInvocations", "retrievalConfig"))
CONTINUATION_REFUSAL = (
    "'continuationToken': it resumes an answer Gemini cut (finishReason CONTINUATION) from what Gemini "
    "keeps; another provider would start a new answer. Send the request to Gemini, or ask anew without it"
)
"""Why a request with a ``continuationToken`` cannot be translated, in either ``unsupported`` mode: dropped,
another provider would answer from the start, and the app would join that answer to the cut one."""


# ---------------------------------------------------------------------------------------------------------
# Reading


def parse_request(body: dict[str, Any], drops: Drops) -> ChatRequest:
    req: ChatRequest = {}
    for raw_key, value in body.items():
        key = camel(raw_key)
        if value is None or key == "model":
            continue
        if key == "contents":
            req["messages"] = parse_contents(value, drops)
            named(req, "messages", "contents")
        elif key == "systemInstruction":
            req["system"] = _parse_system(value, drops)
        elif key == "tools":
            req["tools"] = parse_tools(value, drops)
        elif key == "toolConfig":
            _parse_tool_config(value, req, drops)
        elif key == "generationConfig":
            parse_config(value, req, drops)
        else:
            _parse_other(key, value, drops)
    if "messages" not in req:
        raise TranslationError("'contents' is required")
    return req


def _parse_system(value: Any, drops: Drops) -> list[str]:
    """``systemInstruction``: a content's text parts (or a plain string). Another part (an image) has no
    place in the other dialects' system prompts: refused by name (``systemInstruction.inlineData``) or
    dropped and listed; it was left out unsaid."""
    parts = value.get("parts", ()) if isinstance(value, dict) else [{"text": value}]
    if isinstance(value, dict) and len(value) > ("role" in value) + ("parts" in value):
        check_content(value, "systemInstruction", drops)
    texts = []
    for part in parts:
        if isinstance(part, dict) and len(part) > 1:  # a text alone: nothing to name (``fields``)
            check_part({camel(k): v for k, v in part.items()}, drops)
        if "text" not in part:
            drops.unsupported(f"systemInstruction.{name_of(next(iter(part), None))}", "a system prompt is text")
        elif part["text"]:
            texts.append(part["text"])
    return texts


def _parse_other(key: str, value: Any, drops: Drops) -> None:
    """A field that has no equivalent: safety settings (when there are any), a continuation token (never
    translated), the ones that change nothing generated (``_IGNORED``), the rest."""
    if key == "safetySettings":
        if value:
            drops.unsupported("safetySettings")
    elif key == "continuationToken":
        raise TranslationError(CONTINUATION_REFUSAL)
    elif key in _IGNORED:
        drops.ignored(key)
    else:
        drops.unsupported(key)


def _parse_tool_config(value: Any, req: ChatRequest, drops: Drops) -> None:
    config = {camel(k): v for k, v in value.items()}
    fcc = config.pop("functionCallingConfig", None)
    for key in config:
        if key in _TOOL_CONFIG_IGNORED:
            drops.ignored(f"toolConfig.{key}")
        else:
            drops.unsupported(f"toolConfig.{key}")
    if not isinstance(fcc, dict):
        return
    fcc = {camel(k): v for k, v in fcc.items()}
    for key in fcc.keys() - {"mode", "allowedFunctionNames"}:
        if key == "streamFunctionCallArguments":  # a streaming granularity: calls arrive whole instead
            drops.ignored(f"functionCallingConfig.{key}")
        elif fcc[key] is not None:
            drops.unsupported(f"functionCallingConfig.{key}")
    mode = str(fcc.get("mode", "AUTO")).upper()
    names = list(fcc.get("allowedFunctionNames") or ())
    choice: ToolChoice
    if mode == "ANY":
        choice = {"mode": "tool", "names": names} if names else {"mode": "required", "names": []}
    elif mode == "NONE":
        choice = {"mode": "none", "names": []}
    else:
        if names:  # VALIDATED may limit the calls to these names while the model may also answer in text
            drops.unsupported("functionCallingConfig.allowedFunctionNames", f"only mode ANY translates, not {mode}")
        if mode == "VALIDATED":
            drops.ignored("functionCallingConfig.mode")  # calls checked against their schema: a guarantee
        choice = {"mode": "auto", "names": []}
    req["tool_choice"] = choice


# ---------------------------------------------------------------------------------------------------------
# Writing


def _calls(content: dict[str, Any]) -> bool:
    """Whether a built turn calls a function."""
    return any("functionCall" in part for part in content["parts"])


def build_request(req: ChatRequest, model: str, drops: Drops, options: TranslateOptions) -> dict[str, Any]:
    system, messages = turns_of(req)
    out: dict[str, Any] = {"contents": build_contents(messages)}
    contents = out["contents"]
    check_opening(req, contents, "Gemini", bool(contents) and contents[0]["role"] == "model" and _calls(contents[0]))
    if system:
        out["systemInstruction"] = {"parts": [{"text": s} for s in system]}
    if req.get("tools"):
        _build_tools(req, out, drops)
    config = build_config(req, drops)
    if config is not None:
        out["generationConfig"] = config
    if req.get("user"):
        drops.ignored(caller_name(req, "user"))
    return out


def _build_tools(req: ChatRequest, out: dict[str, Any], drops: Drops) -> None:
    """``tools`` (one ``functionDeclarations``) and ``toolConfig`` (the tool choice: forced names as
    ``allowedFunctionNames``); Gemini cannot forbid parallel calls."""
    decls = []
    for t in req["tools"]:
        decl: dict[str, Any] = {"name": t["name"]}
        if t["description"]:
            decl["description"] = t["description"]
        params = t["parameters"]
        if params and params.get("properties"):
            decl["parameters"] = to_gemini(params)
        decls.append(decl)
    out["tools"] = [{"functionDeclarations": decls}]
    choice = req.get("tool_choice")
    if choice is not None:
        fcc: dict[str, Any] = {"mode": _MODES[choice["mode"]]}
        if choice["mode"] == "tool":
            fcc["allowedFunctionNames"] = choice["names"]
        out["toolConfig"] = {"functionCallingConfig": fcc}
    if req.get("parallel_tool_calls") is False:
        drops.unsupported(caller_name(req, "parallel_tool_calls"), "Gemini cannot forbid parallel calls")


def gemini_params(body: dict[str, Any]) -> RequestParams:
    model = body.get("model")
    raw = body.get("generationConfig") or body.get("generation_config") or {}
    config = {camel(k): v for k, v in raw.items()} if isinstance(raw, dict) else {}
    return RequestParams(
        model=model if type(model) is str else None,
        max_tokens=integer(config.get("maxOutputTokens")),
        temperature=number(config.get("temperature")),
        top_p=number(config.get("topP")),
        top_k=integer(config.get("topK")),
        stop_sequences=stops(config.get("stopSequences")),
        frequency_penalty=number(config.get("frequencyPenalty")),
        presence_penalty=number(config.get("presencePenalty")),
        seed=integer(config.get("seed")),
        choice_count=integer(config.get("candidateCount")),
    )
