"""Gemini generateContent requests <-> the common form (responses: ``response``).

- ``parse_request`` / ``build_request``: ``models/{model}:generateContent`` bodies (``contents`` with
  roles user/model, ``systemInstruction``, text/inlineData/fileData/functionCall/functionResponse parts,
  ``tools[].functionDeclarations``, ``toolConfig.functionCallingConfig``, ``generationConfig``). The model
  and streaming are in the URL path, never in the body. camelCase and snake_case keys are both read.
- Consecutive contents of one role are one turn (google-genai's chats keep a streamed answer as one
  ``model`` content per fragment; OpenAI would take them as separate messages).
- Gemini has no tool-call ids in history: reading, calls get ``call_{turn}_{part}`` ids and each
  ``functionResponse`` links to the earliest unanswered call of the same name; writing, ids are dropped
  and each ``functionResponse`` takes its call's name and its place in the calls' order. The first
  ``functionCall`` of each model turn written gets the documented ``skip_thought_signature_validator``
  signature (Gemini 3 requires one, and calls from another provider have none).
- Tool results: text that is a JSON object goes as the ``response`` object, other text as
  ``{"result": text}``, an error as ``{"error": ...}``; reading back unwraps the same way.
- Function declarations are read by ``declarations`` (a result schema, ``response``, is refused by name).
- Schemas go through ``schema.to_gemini`` (tools and ``responseSchema``) and ``schema.to_json_schema``.
- ``thinkingConfig`` is read and written by ``thinking``, ``responseLogprobs`` and ``logprobs`` by
  ``logprobs``.
- More ``stopSequences`` than Gemini takes (``GEMINI_MAX_STOPS``) cannot be translated, nor a ``fileData``
  URI only Gemini can read (``files``: Files API, Cloud Storage).
"""

from __future__ import annotations

import sys
from typing import Any, Literal

import orjson

from ...translate.common import ChatRequest, Message, Part, RequestParams, ToolChoice
from ...translate.media import guess_media_type
from ...translate.options import Drops, TranslateOptions, TranslationError
from ...translate.params import caller_name, integer, named, number, stop_list, stops
from ...translate.parts import dumps, turns_of
from ...translate.schema import described, to_gemini, to_json_schema
from ...translate.shapes import said_kind
from .declarations import parse_tools
from .files import GOOGLE_ONLY_URI, fetchable
from .keys import camel
from .logprobs import CONFIG_KEYS as LOGPROBS_KEYS
from .logprobs import add_to_config as add_logprobs
from .logprobs import read_config as read_logprobs
from .thinking import build_thinking, parse_thinking

SKIP_SIGNATURE = "skip_thought_signature_validator"
GEMINI_MAX_STOPS = 5
"""Gemini takes at most this many ``stopSequences``. More cannot be translated (in either ``unsupported``
mode: it is a limit, not a missing parameter), so a route's next target serves the request; Gemini's own
400 would have ended the route (a 400 does not fall back)."""


_CONFIG_KEYS = {
    "maxOutputTokens": "max_tokens",
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "seed": "seed",
}
_IGNORED_CONFIG = frozenset(("mediaResolution", "enableEnhancedCivicAnswers"))


# ---------------------------------------------------------------------------------------------------------
# Requests


def parse_request(body: dict[str, Any], drops: Drops) -> ChatRequest:
    req: ChatRequest = {}
    for raw_key, value in body.items():
        key = camel(raw_key)
        if value is None or key == "model":
            continue
        if key == "contents":
            if isinstance(value, dict):
                value = [value]
            if not isinstance(value, list):
                raise TranslationError("'contents' must be a list")
            req["messages"] = _parse_contents(value, drops)
        elif key == "systemInstruction":
            parts = value.get("parts", ()) if isinstance(value, dict) else [{"text": value}]
            req["system"] = [p["text"] for p in parts if p.get("text")]
        elif key == "tools":
            req["tools"] = parse_tools(value, drops)
        elif key == "toolConfig":
            _parse_tool_config(value, req, drops)
        elif key == "generationConfig":
            _parse_config(value, req, drops)
        elif key == "safetySettings":
            if value:
                drops.unsupported("safetySettings")
        elif key == "labels":
            drops.ignored(key)
        else:
            drops.unsupported(key)
    if "messages" not in req:
        raise TranslationError("'contents' is required")
    return req


def _parse_contents(contents: list[Any], drops: Drops) -> list[Message]:
    messages: list[Message] = []
    pending: dict[str, list[str]] = {}  # a function's call ids not answered yet, for results without an id
    for turn, content in enumerate(contents):
        role: Literal["user", "assistant"] = "assistant" if content.get("role") == "model" else "user"
        raw_parts = content.get("parts") or ()
        if isinstance(raw_parts, (str, dict)):  # iterated, a string would read as parts of one letter
            raise TranslationError(f"contents[{turn}].parts: must be an array, not {said_kind(raw_parts)}")
        parts: list[Part] = []
        for index, raw in enumerate(raw_parts):
            part = {camel(k): v for k, v in raw.items()} if any("_" in k for k in raw) else raw
            parsed = _parse_part(part, f"call_{turn}_{index}", pending, drops)
            if parsed is not None:
                parts.append(parsed)
        if messages and messages[-1]["role"] == role:
            messages[-1]["parts"].extend(parts)  # one turn: a streamed answer is kept one content per fragment
        else:
            messages.append({"role": role, "parts": parts})
    return messages


def _parse_part(part: dict[str, Any], made_id: str, pending: dict[str, list[str]], drops: Drops) -> Part | None:
    """One Gemini part in the common form; None for a part that carries nothing (a thought, empty text)."""
    if "text" in part:
        if part.get("thought"):
            drops.ignored("thought")
            return None
        return {"type": "text", "text": part["text"]} if part["text"] else None
    if "functionCall" in part:
        return _function_call(part["functionCall"], made_id, pending)
    if "functionResponse" in part:
        return _function_response(part["functionResponse"], made_id, pending, drops)
    if "inlineData" in part:
        data = part["inlineData"]
        media = data.get("mimeType") or data.get("mime_type")
        return {"type": "media", "media_type": media, "data": data.get("data"), "url": None}
    if "fileData" in part:
        data = part["fileData"]
        media = data.get("mimeType") or data.get("mime_type")
        uri = data.get("fileUri") or data.get("file_uri")
        if not fetchable(uri):
            raise TranslationError(f"'fileData.fileUri': {GOOGLE_ONLY_URI}")
        return {"type": "media", "media_type": media, "data": None, "url": uri}
    drops.unsupported("parts." + next((k for k in part if k != "thoughtSignature"), "empty"))
    return None


def _function_call(fc: dict[str, Any], made_id: str, pending: dict[str, list[str]]) -> Part:
    ident = fc.get("id") or made_id
    pending.setdefault(fc["name"], []).append(ident)
    args = fc.get("args")
    return {"type": "tool_call", "id": ident, "name": fc["name"], "arguments": args if isinstance(args, dict) else {}}


def _function_response(fr: dict[str, Any], made_id: str, pending: dict[str, list[str]], drops: Drops) -> Part:
    if fr.get("parts"):  # Gemini 3's media results (an image the function made): no other form
        drops.unsupported("functionResponse.parts", "a function's media result does not translate")
    waiting = pending.get(fr["name"])
    ident = fr.get("id") or (waiting.pop(0) if waiting else made_id)
    response = fr.get("response")
    response = response if isinstance(response, dict) else {}
    error = response.get("error") if len(response) == 1 else None
    output = response if error is None else error if isinstance(error, (str, dict)) else dumps(error)
    return {
        "type": "tool_result",
        "call_id": ident,
        "name": fr["name"],
        "output": output,
        "is_error": error is not None,
    }


def _parse_tool_config(value: Any, req: ChatRequest, drops: Drops) -> None:
    config = {camel(k): v for k, v in value.items()}
    fcc = config.pop("functionCallingConfig", None)
    for key in config:
        drops.unsupported(f"toolConfig.{key}")
    if not isinstance(fcc, dict):
        return
    fcc = {camel(k): v for k, v in fcc.items()}
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


def _parse_config(value: Any, req: ChatRequest, drops: Drops) -> None:
    mime = None
    schema: Any = None
    for raw_key, v in value.items():
        key = camel(raw_key)
        if v is None:
            continue
        if key in _CONFIG_KEYS:
            req[_CONFIG_KEYS[key]] = v  # type: ignore[literal-required]
            named(req, _CONFIG_KEYS[key], key)
        elif key == "stopSequences":
            if stop := stop_list(v, key):
                req["stop"] = stop
                named(req, "stop", key)
        elif key == "candidateCount":
            if v != 1:
                req["n"] = v
                named(req, "n", key)
        elif key in ("presencePenalty", "frequencyPenalty"):
            if v != 0:
                common = "presence_penalty" if key == "presencePenalty" else "frequency_penalty"
                req[common] = v  # type: ignore[literal-required]
                named(req, common, key)
        elif key == "responseMimeType":
            if not isinstance(v, str):  # it is named in a refusal's text: a number there was a 500
                raise TranslationError("generationConfig.responseMimeType: must be a string")
            mime = v
        elif key == "responseSchema":
            schema = to_json_schema(v)
        elif key in ("responseJsonSchema", "_responseJsonSchema"):
            schema = v
        elif key == "thinkingConfig":
            if isinstance(v, dict):
                parse_thinking({camel(k): x for k, x in v.items()}, req, drops)
            else:
                drops.unsupported(key)
        elif key == "responseModalities":
            if [str(m).upper() for m in v] != ["TEXT"]:
                drops.unsupported("responseModalities")
        elif key in LOGPROBS_KEYS:
            read_logprobs(req, key, v)
        elif key in _IGNORED_CONFIG:
            drops.ignored(key)
        else:
            drops.unsupported(f"generationConfig.{key}")
    if mime == "application/json":
        req["response_format"] = (
            {"kind": "json_schema", "schema": schema, "name": "response"}
            if schema
            else {"kind": "json_object", "schema": None, "name": "response"}
        )
    elif mime not in (None, "text/plain"):
        drops.unsupported("responseMimeType", mime)


def build_request(req: ChatRequest, model: str, drops: Drops, options: TranslateOptions) -> dict[str, Any]:
    system, messages = turns_of(req)
    out: dict[str, Any] = {"contents": _build_contents(messages)}
    if system:
        out["systemInstruction"] = {"parts": [{"text": s} for s in system]}
    tools = req.get("tools")
    if tools:
        decls = []
        for t in tools:
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
            mode = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}[choice["mode"]]
            fcc: dict[str, Any] = {"mode": mode}
            if choice["mode"] == "tool":
                fcc["allowedFunctionNames"] = choice["names"]
            out["toolConfig"] = {"functionCallingConfig": fcc}
        if req.get("parallel_tool_calls") is False:
            drops.unsupported(caller_name(req, "parallel_tool_calls"), "Gemini cannot forbid parallel calls")
    config: dict[str, Any] = {}
    if "max_tokens" in req:
        config["maxOutputTokens"] = req["max_tokens"]
    for src, dst in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("seed", "seed"),
        ("n", "candidateCount"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if src in req:
            config[dst] = req[src]  # type: ignore[literal-required]
    stop = req.get("stop")
    if stop and len(stop) > GEMINI_MAX_STOPS:
        name = caller_name(req, "stop")
        raise TranslationError(f"{name!r}: Gemini takes at most {GEMINI_MAX_STOPS} stop sequences, {len(stop)} given")
    if stop:
        config["stopSequences"] = stop
    build_thinking(req, config)
    add_logprobs(req, config)
    fmt = req.get("response_format")
    if fmt is not None:
        config["responseMimeType"] = "application/json"
        if fmt["schema"]:
            config["responseSchema"] = described(to_gemini(fmt["schema"]), fmt.get("description"))
        elif fmt.get("description"):
            drops.unsupported("response_format.json_schema.description", "Gemini describes a response by its schema")
    if config:
        out["generationConfig"] = config
    if req.get("user"):
        drops.ignored(caller_name(req, "user"))
    return out


def _build_contents(messages: Any) -> list[dict[str, Any]]:
    """Gemini ``contents``: a turn's function responses first, in the order of the calls they answer
    (Gemini links a response to its call by position among the calls of that name, not by id)."""
    staged: list[tuple[str, list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]] = []
    names: dict[str, str] = {}
    order: dict[str, int] = {}  # each call's position in the conversation
    for m in messages:
        role = "model" if m["role"] == "assistant" else "user"
        parts: list[dict[str, Any]] = []
        results: list[tuple[int, dict[str, Any]]] = []
        for p in m["parts"]:
            kind = p["type"]
            if kind == "text":
                if p["text"]:
                    parts.append({"text": p["text"]})
            elif kind == "tool_call":
                names[p["id"]] = p["name"]
                order.setdefault(p["id"], len(order))
                parts.append({"functionCall": {"name": p["name"], "args": p["arguments"]}})
            elif kind == "tool_result":
                name = p["name"] or names.get(p["call_id"]) or p["call_id"]
                response = _response_object(p["output"], p["is_error"])
                position = order.get(p["call_id"], sys.maxsize)  # an unknown call's after the known ones
                results.append((position, {"functionResponse": {"name": name, "response": response}}))
            elif kind == "reasoning":
                continue  # answer-side only: requests never carry reasoning
            elif p["url"] is not None:
                media = p["media_type"] or guess_media_type(p["url"])
                parts.append({"fileData": {"mimeType": media, "fileUri": p["url"]}})
            else:
                parts.append({"inlineData": {"mimeType": p["media_type"] or "image/jpeg", "data": p["data"]}})
        if not parts and not results:
            continue
        if staged and staged[-1][0] == role:
            staged[-1][1].extend(results)
            staged[-1][2].extend(parts)
        else:
            staged.append((role, results, parts))
    out = []
    for role, results, parts in staged:
        if role == "model":
            for part in parts:
                if "functionCall" in part:
                    part["thoughtSignature"] = SKIP_SIGNATURE
                    break
        answers = [result for _, result in sorted(results, key=lambda r: r[0])]  # stable
        out.append({"role": role, "parts": answers + parts if answers else parts})
    return out


def _response_object(output: str | dict[str, Any], is_error: bool) -> dict[str, Any]:
    if isinstance(output, str) and output.startswith("{"):
        try:
            parsed = orjson.loads(output)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            output = parsed
    if is_error:
        return {"error": output}
    return output if isinstance(output, dict) else {"result": output}


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
