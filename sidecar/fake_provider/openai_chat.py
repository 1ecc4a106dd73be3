"""OpenAI Chat Completions (``/v1/chat/completions``) and legacy Completions (``/v1/completions``).

Streams are ``data: {chunk}`` events ended by ``data: [DONE]``: a role chunk, content (or tool-call)
deltas, a chunk carrying ``finish_reason``, then, when ``stream_options.include_usage`` is set, a usage
chunk with empty ``choices``. Tool calls stream as one chunk naming the call, then argument pieces.
``logprobs: true`` (with ``top_logprobs``) adds ``choices[].logprobs.content``, one entry per word (in a
stream, on each content chunk). A ``fake:cite`` answer carries a ``url_citation`` in
``message.annotations``; streamed, as OpenAI's search models send it: once, in a chunk of its own
(``delta.annotations``) after the last content chunk and before the finish chunk, its indices in
characters of the whole answer. ``tool_choice`` without ``tools`` is a 400, as upstream, and so are a tool name
outside ``^[a-zA-Z0-9_-]{1,64}$`` and a history's tool call id over 40 characters. ``n`` (not streamed) gives
that many choices, the same answer each, each billed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sidecar.fake_provider import conversation as conv
from sidecar.fake_provider.quality import TokenLogprob
from sidecar.fake_provider.replies import (
    Call,
    Frame,
    JsonReply,
    Reply,
    RequestError,
    StreamReply,
    fixed,
    frame,
    optional_int,
    require,
)

QUALITY_HEADER = "x-fake-quality"

OPENAI_ID_CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
"""The characters the random part of an OpenAI id is drawn from (``chatcmpl-``, ``cmpl-``, ``call_``)."""
FINGERPRINT = "fp_fake0000"
DONE = Frame(b"[DONE]")
STREAM_ERROR = frame(
    {
        "error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
)
LEGACY_DEFAULT_MAX_TOKENS = 16  # /v1/completions defaults max_tokens to 16


def usage(answer: conv.Answer, *, details: bool = True) -> dict[str, Any]:
    """OpenAI ``usage``; chat adds the token detail objects (cached tokens are always 0 here)."""
    body: dict[str, Any] = {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
    }
    if details:
        body["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        body["completion_tokens_details"] = {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return body


def answers_asked(value: Any) -> int:
    """How many answers a request asks for (OpenAI ``n``, Gemini ``candidateCount``): 1 unless a larger int."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


def chat_prompt(body: Mapping[str, Any]) -> conv.Prompt:
    """Reduce a chat request to the dialect-neutral prompt; ``RequestError`` when it is invalid."""
    require(body, "model", str)
    messages = require(body, "messages", list)
    if not messages or not all(isinstance(message, Mapping) for message in messages):
        raise RequestError("messages: must be a non-empty list of message objects", param="messages")
    if body.get("tool_choice") is not None and not body.get("tools"):
        raise RequestError(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            param="tool_choice",
        )
    last = messages[-1]
    user: Mapping[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    json_asked, schema = json_format(body.get("response_format"))
    tools = tuple(
        conv.ToolSpec(str(tool["function"].get("name", "")), tool["function"].get("parameters") or {})
        for tool in body.get("tools") or []
        if isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping)
    )
    _check_call_ids(messages)
    for index, tool in enumerate(tools):
        if not _TOOL_NAME.fullmatch(tool.name):
            raise RequestError(
                f"Invalid 'tools[{index}].function.name': string does not match pattern. Expected a string "
                "that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param=f"tools[{index}].function.name",
            )
    return conv.Prompt(
        text=_content_text(user.get("content")),
        input_tokens=conv.estimate_tokens(conv.text_chars(messages) + conv.text_chars(body.get("tools"))),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        tool_result=_content_text(last.get("content")) if last.get("role") == "tool" else None,
        max_tokens=optional_int(body, "max_completion_tokens", "max_tokens"),
        stop=conv.stop_sequences(body.get("stop")),
        parallel_calls=body.get("parallel_tool_calls") is not False,
        model=str(body.get("model") or ""),
        json_asked=json_asked,
        json_schema=schema,
        logprobs=_top_logprobs(body) if body.get("logprobs") is True else None,
    )


_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}", re.ASCII)
"""The function names OpenAI takes (a name over 64 characters is refused too)."""
CALL_ID_MAX = 40
"""The longest tool call id OpenAI takes in a history's assistant message (``tool_calls[].id``)."""


def _check_call_ids(messages: list[Any]) -> None:
    """OpenAI's 400 for an assistant message's tool call whose id is over ``CALL_ID_MAX`` characters."""
    for index, message in enumerate(messages):
        calls = message.get("tool_calls")
        for number, call in enumerate(calls if isinstance(calls, list) else ()):
            ident = call.get("id") if isinstance(call, Mapping) else None
            if isinstance(ident, str) and len(ident) > CALL_ID_MAX:
                raise RequestError(
                    f"Invalid 'messages[{index}].tool_calls[{number}].id': string too long. Expected a string "
                    f"with maximum length {CALL_ID_MAX}, but got a string with length {len(ident)} instead.",
                    param=f"messages[{index}].tool_calls[{number}].id",
                )


def json_format(response_format: Any) -> tuple[bool, Mapping[str, Any] | None]:
    """Whether an OpenAI ``response_format`` (or Responses ``text.format``) asks for JSON, and its schema."""
    if not isinstance(response_format, Mapping):
        return False, None
    kind = response_format.get("type")
    if kind == "json_object":
        return True, None
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = (spec if isinstance(spec, Mapping) else response_format).get("schema")
        return True, schema if isinstance(schema, Mapping) else None
    return False, None


def _top_logprobs(body: Mapping[str, Any]) -> int:
    top = body.get("top_logprobs")
    return top if isinstance(top, int) and not isinstance(top, bool) and top > 0 else 0


def logprob_entry(item: TokenLogprob) -> dict[str, Any]:
    """One token's log-probability as OpenAI writes it (chat ``logprobs.content[]``, Responses ``logprobs[]``)."""
    return {
        "token": item.token,
        "logprob": item.logprob,
        "bytes": list(item.token.encode()),
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in item.top],
    }


def quality_headers(answer: conv.Answer) -> dict[str, str]:
    """``x-fake-quality`` when the answer was graded."""
    return {QUALITY_HEADER: answer.quality} if answer.quality is not None else {}


def chat(call: Call) -> Reply:
    """``POST /v1/chat/completions`` (also the Azure deployment form)."""
    body = call.body
    prompt = chat_prompt(body)
    answer = conv.answer(prompt, call.reply, call.grading(prompt.model, prompt.text))
    model = str(body.get("model") or call.path_params.get("deployment", ""))
    asked_logprobs = prompt.logprobs is not None
    headers = quality_headers(answer)
    ident = call.ids.make_id("chatcmpl-", 29, OPENAI_ID_CHARACTERS)
    call_ids = [call.ids.make_id("call_", 24, OPENAI_ID_CHARACTERS) for _ in answer.calls]
    finish = "tool_calls" if answer.calls else "length" if answer.truncated else "stop"
    head = {"id": ident, "created": int(call.now), "model": model, "system_fingerprint": FINGERPRINT}
    if not body.get("stream"):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": answer.text if not answer.calls else None,
            "refusal": None,
            "annotations": _annotations(answer),
        }
        if answer.calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json}}
                for cid, c in zip(call_ids, answer.calls, strict=True)
            ]
        logprobs = _choice_logprobs(answer.logprobs) if asked_logprobs and not answer.calls else None
        choice = {"index": 0, "message": message, "logprobs": logprobs, "finish_reason": finish}
        count = answers_asked(body.get("n"))  # n answers, each billed: the same one n times here
        choices = [{**choice, "index": index} for index in range(count)]
        billed = usage(answer)
        billed["completion_tokens"] *= count
        billed["total_tokens"] = billed["prompt_tokens"] + billed["completion_tokens"]
        result = {**head, "object": "chat.completion", "choices": choices, "usage": billed}
        return JsonReply({**result, "service_tier": "default"}, answer.output_tokens * count, headers)

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None, tokens: int = 0, logprobs: Any = None) -> Frame:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
        return frame({**head, "object": "chat.completion.chunk", "choices": [choice], **extra}, tokens=tokens)

    frames = [chunk({"role": "assistant", "content": "" if not answer.calls else None, "refusal": None})]
    for index, (cid, tool_call) in enumerate(zip(call_ids, answer.calls, strict=True)):
        named = {"index": index, "id": cid, "type": "function"}
        frames.append(chunk({"tool_calls": [{**named, "function": {"name": tool_call.name, "arguments": ""}}]}))
        for piece in conv.split_json(tool_call.arguments_json):
            delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            frames.append(chunk(delta, tokens=conv.estimate_tokens(piece)))
    if not answer.calls:
        pieces = conv.split_text(answer.text)
        per_piece = [_choice_logprobs((item,)) for item in answer.logprobs] if asked_logprobs else []
        for index, piece in enumerate(pieces):
            logprobs = per_piece[index] if index < len(per_piece) else None
            frames.append(chunk({"content": piece}, tokens=conv.estimate_tokens(piece), logprobs=logprobs))
        if answer.cited is not None:
            frames.append(chunk({"annotations": _annotations(answer)}))
    frames.append(chunk({}, finish))
    if include_usage:
        frames.append(frame({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage(answer)}))
    return StreamReply((*frames, DONE), fixed(STREAM_ERROR), headers=headers)


def _annotations(answer: conv.Answer) -> list[dict[str, Any]]:
    """``message.annotations``: the ``url_citation`` of a ``fake:cite`` answer (indices in characters)."""
    if answer.cited is None:
        return []
    start, end = answer.cited
    cited = {"url": conv.CITED_URL, "title": conv.CITED_TITLE, "start_index": start, "end_index": end}
    return [{"type": "url_citation", "url_citation": cited}]


def _choice_logprobs(items: tuple[TokenLogprob, ...]) -> dict[str, Any]:
    return {"content": [logprob_entry(item) for item in items], "refusal": None}


def completion(call: Call) -> Reply:
    """``POST /v1/completions``: the legacy text completion (``max_tokens`` defaults to 16, as upstream)."""
    body = call.body
    model = require(body, "model", str)
    prompt = body.get("prompt", "<|endoftext|>")
    texts = [prompt] if isinstance(prompt, str) else [p for p in prompt if isinstance(p, str)]
    text = texts[-1] if texts else ""
    max_tokens = optional_int(body, "max_tokens") or LEGACY_DEFAULT_MAX_TOKENS
    stop = conv.stop_sequences(body.get("stop"))
    neutral = conv.Prompt(
        text, conv.estimate_tokens(conv.text_chars(prompt)), max_tokens=max_tokens, model=model, stop=stop
    )
    answer = conv.answer(neutral, call.reply, call.grading(model, text))
    headers = quality_headers(answer)
    finish = "length" if answer.truncated else "stop"
    head: dict[str, Any] = {"id": call.ids.make_id("cmpl-", 29, OPENAI_ID_CHARACTERS), "object": "text_completion"}
    head |= {"created": int(call.now), "model": model, "system_fingerprint": FINGERPRINT}

    def choice(text: str, finish_reason: str | None) -> dict[str, Any]:
        return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}

    if not body.get("stream"):
        body_out = {**head, "choices": [choice(answer.text, finish)], "usage": usage(answer, details=False)}
        return JsonReply(body_out, answer.output_tokens, headers)
    frames = [
        frame({**head, "choices": [choice(piece, None)]}, tokens=conv.estimate_tokens(piece))
        for piece in conv.split_text(answer.text)
    ]
    frames.append(frame({**head, "choices": [choice("", finish)]}))
    if (body.get("stream_options") or {}).get("include_usage"):
        frames.append(frame({**head, "choices": [], "usage": usage(answer, details=False)}))
    return StreamReply((*frames, DONE), fixed(STREAM_ERROR), headers=headers)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return conv.last_text(content)
    return ""


def _tool_choice(choice: Any) -> conv.ToolChoice:
    if isinstance(choice, str):
        return conv.ToolChoice(mode=choice)
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        return conv.ToolChoice(mode="required", name=name if isinstance(name, str) else None)
    return conv.ToolChoice()
