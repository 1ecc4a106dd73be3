"""OpenAI Responses API (``POST /v1/responses``), non-stream and stream.

Stream event order (each an SSE ``event: <type>`` with a JSON ``data`` carrying ``type`` and
``sequence_number``)::

    response.created, response.in_progress
    per output item:  response.output_item.added
        message:       response.content_part.added, response.output_text.delta*, response.output_text.done,
                       response.content_part.done
        function_call: response.function_call_arguments.delta*, response.function_call_arguments.done
                      response.output_item.done
    response.completed (response.incomplete when cut by max_output_tokens)

The in-stream error is ``event: error`` with ``{"type": "error", "code", "message", "param"}``.
``include: ["message.output_text.logprobs"]`` (with ``top_logprobs``) fills the text part's ``logprobs``
and each delta's; ``text.format`` json_object / json_schema asks for JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.fake_provider import conversation as conv
from sidecar.fake_provider.openai_chat import OPENAI_ID_CHARACTERS, json_format, logprob_entry, quality_headers
from sidecar.fake_provider.replies import (
    Call,
    Frame,
    JsonReply,
    Reply,
    RequestError,
    StreamReply,
    frame,
    optional_int,
    require,
)

_HEX = "0123456789abcdef"
LOGPROBS_INCLUDE = "message.output_text.logprobs"


def responses(call: Call) -> Reply:
    """``POST /v1/responses``."""
    body = call.body
    prompt = _prompt(body)
    answer = conv.answer(prompt, call.reply, call.grading(prompt.model, prompt.text))
    ident = call.ids.make_id("resp_", 48, _HEX)
    logprobs = [logprob_entry(item) for item in answer.logprobs]
    items = _output_items(call, answer, logprobs)
    final = _response(call, ident, answer, items, "incomplete" if answer.truncated else "completed")
    headers = quality_headers(answer)
    if not body.get("stream"):
        return JsonReply(final, answer.output_tokens, headers)
    pending = _response(call, ident, answer, items, "in_progress")
    return StreamReply(tuple(_events(pending, items, final, logprobs)), _error_event, headers=headers)


def _prompt(body: Mapping[str, Any]) -> conv.Prompt:
    require(body, "model", str)
    raw_input = require(body, "input", (str, list))
    items = [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input
    if not items or not all(isinstance(item, Mapping) for item in items):
        raise RequestError("input: must be a string or a non-empty list of items", param="input")
    user: Mapping[str, Any] = next((item for item in reversed(items) if item.get("role") == "user"), {})
    content = user.get("content")
    text = content if isinstance(content, str) else conv.last_text(content or [])
    last = items[-1]
    tool_result = str(last.get("output", "")) if last.get("type") == "function_call_output" else None
    tools = tuple(
        conv.ToolSpec(str(tool.get("name", "")), tool.get("parameters") or {})
        for tool in body.get("tools") or []
        if isinstance(tool, Mapping) and tool.get("type") == "function"
    )
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping):
        tool_choice = conv.ToolChoice("required", choice.get("name"))
    else:
        tool_choice = conv.ToolChoice(choice if isinstance(choice, str) else "auto")
    chars = conv.text_chars(items) + conv.text_chars(body.get("instructions")) + conv.text_chars(tools)
    text_options = body.get("text")
    json_asked, schema = json_format(text_options.get("format") if isinstance(text_options, Mapping) else None)
    include = body.get("include")
    wants_logprobs = isinstance(include, list) and LOGPROBS_INCLUDE in include
    top = body.get("top_logprobs")
    return conv.Prompt(
        text=text,
        input_tokens=conv.estimate_tokens(chars),
        tools=tools,
        tool_choice=tool_choice,
        tool_result=tool_result,
        max_tokens=optional_int(body, "max_output_tokens"),
        model=str(body.get("model")),
        json_asked=json_asked,
        json_schema=schema,
        logprobs=(top if isinstance(top, int) and not isinstance(top, bool) else 0) if wants_logprobs else None,
    )


def _output_items(call: Call, answer: conv.Answer, logprobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if answer.calls:
        return [
            {
                "type": "function_call",
                "id": call.ids.make_id("fc_", 48, _HEX),
                "call_id": call.ids.make_id("call_", 24, OPENAI_ID_CHARACTERS),
                "name": tool_call.name,
                "arguments": tool_call.arguments_json,
                "status": "completed",
            }
            for tool_call in answer.calls
        ]
    part = {"type": "output_text", "text": answer.text, "annotations": [], "logprobs": logprobs}
    message_id = call.ids.make_id("msg_", 48, _HEX)
    status = "incomplete" if answer.truncated else "completed"
    return [{"type": "message", "id": message_id, "status": status, "role": "assistant", "content": [part]}]


def _response(call: Call, ident: str, answer: conv.Answer, output: list[dict[str, Any]], status: str) -> dict[str, Any]:
    body = call.body
    done = status != "in_progress"
    usage = {
        "input_tokens": answer.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": answer.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": answer.input_tokens + answer.output_tokens,
    }
    return {
        "id": ident,
        "object": "response",
        "created_at": int(call.now),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body.get("model"),
        "output": output if done else [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": usage if done else None,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def _events(
    pending: dict[str, Any], items: list[dict[str, Any]], final: dict[str, Any], logprobs: list[dict[str, Any]]
) -> list[Frame]:
    events: list[tuple[dict[str, Any], int]] = []

    def emit(kind: str, tokens: int = 0, **fields: Any) -> None:
        events.append(({"type": kind, **fields}, tokens))

    emit("response.created", response=pending)
    emit("response.in_progress", response=pending)
    for index, item in enumerate(items):
        ref = {"item_id": item["id"], "output_index": index}
        if item["type"] == "function_call":
            emit("response.output_item.added", output_index=index, item={**item, "arguments": ""})
            for piece in conv.split_json(item["arguments"]):
                emit("response.function_call_arguments.delta", conv.estimate_tokens(piece), **ref, delta=piece)
            emit("response.function_call_arguments.done", **ref, name=item["name"], arguments=item["arguments"])
        else:
            part = item["content"][0]
            emit("response.output_item.added", output_index=index, item={**item, "content": []})
            emit("response.content_part.added", **ref, content_index=0, part={**part, "text": ""})
            for number, piece in enumerate(conv.split_text(part["text"])):
                tokens = conv.estimate_tokens(piece)
                piece_logprobs = logprobs[number : number + 1]
                emit("response.output_text.delta", tokens, **ref, content_index=0, delta=piece, logprobs=piece_logprobs)
            emit("response.output_text.done", **ref, content_index=0, text=part["text"], logprobs=logprobs)
            emit("response.content_part.done", **ref, content_index=0, part=part)
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.incomplete" if final["status"] == "incomplete" else "response.completed", response=final)
    return [
        frame({**payload, "sequence_number": number}, event=payload["type"], tokens=tokens)
        for number, (payload, tokens) in enumerate(events)
    ]


def _error_event(sent: int) -> Frame:
    payload = {
        "type": "error",
        "code": "server_error",
        "message": "The server had an error while processing your request. Sorry about that!",
        "param": None,
        "sequence_number": sent,
    }
    return frame(payload, event="error")
