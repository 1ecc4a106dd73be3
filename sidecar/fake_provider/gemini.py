"""Gemini API: ``models/{model}:generateContent``, ``:streamGenerateContent`` and ``:countTokens``.

Streams: with ``?alt=sse`` each ``data:`` line is a ``GenerateContentResponse`` fragment, one per text
piece (a function call comes whole in one fragment); the last carries ``finishReason`` and
``usageMetadata``. Without ``alt=sse`` the same fragments form one JSON array, written piece by piece.
``generationConfig.candidateCount`` (not streamed) gives that many candidates, the same answer each.
Gemini 3 models (``gemini-3...``) sign their answers and check the signatures sent back (``signatures``):
the first function call carries a ``thoughtSignature``; a text answer carries it on its part, streamed
on an empty text part of its own in the last fragment.
The in-stream error is a fragment ``{"error": {"code": 503, "status": "UNAVAILABLE", ...}}``.
``responseMimeType: application/json`` asks for JSON (schema: ``responseJsonSchema``, or ``responseSchema``
in Gemini's form); ``responseLogprobs: true`` (with ``logprobs``: runners-up per token) adds each
candidate's ``logprobsResult`` and ``avgLogprobs`` (per fragment in a stream). A ``fake:cite`` answer
carries ``citationMetadata.citationSources``, its indices in bytes of the answer's text; streamed, on the
last fragment, its indices in bytes of the whole answer (not of that fragment's text), the form Google's
SDKs read: they take the last fragment's ``citationMetadata`` as the whole answer's.
A model turn that calls a function must follow a user turn (or a function response), as Gemini checks:
a conversation that begins with the model's call is a 400 ``INVALID_ARGUMENT``; one that begins with a
model text turn is taken; the model's contents in a row are one turn (google-genai's streamed chat keeps
one per fragment).
``thinkingConfig.includeThoughts: true`` (budget not 0) adds a thought summary part (``thought: true``)
before the answer, in a fragment of its own when streamed, counted in ``thoughtsTokenCount``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from sidecar.fake_provider import conversation as conv
from sidecar.fake_provider import signatures
from sidecar.fake_provider.openai_chat import answers_asked, quality_headers
from sidecar.fake_provider.quality import TokenLogprob
from sidecar.fake_provider.replies import (
    Call,
    JsonReply,
    Reply,
    RequestError,
    StreamFormat,
    StreamReply,
    fixed,
    frame,
    optional_int,
    require,
)
from sidecar.translate.schema import to_json_schema

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
STREAM_ERROR = frame(
    {
        "error": {
            "code": 503,
            "message": "The model is overloaded. Please try again later.",
            "status": "UNAVAILABLE",
        }
    }
)


def prompt_of(body: Mapping[str, Any], model: str = "") -> conv.Prompt:
    """Reduce a GenerateContentRequest to the neutral prompt; ``RequestError`` when it is invalid."""
    contents = require(body, "contents", list)
    if not contents or not all(isinstance(content, Mapping) for content in contents):
        raise RequestError("contents: must be a non-empty list of Content objects")
    _check_call_turns(contents)
    user: Mapping[str, Any] = next((c for c in reversed(contents) if c.get("role", "user") == "user"), {})
    text = conv.last_text(user.get("parts") or [])
    responses = [
        part["functionResponse"]
        for part in contents[-1].get("parts") or []
        if isinstance(part, Mapping) and isinstance(part.get("functionResponse"), Mapping)
    ]
    tool_result = orjson.dumps(responses[-1].get("response")).decode() if responses else None
    declarations = [
        declaration
        for tool in body.get("tools") or []
        if isinstance(tool, Mapping)
        for declaration in tool.get("functionDeclarations") or []
        if isinstance(declaration, Mapping)
    ]
    tools = tuple(
        conv.ToolSpec(str(d.get("name", "")), d.get("parameters") or _json_schema_of(d) or {}) for d in declarations
    )
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    mode = {"ANY": "required", "NONE": "none"}.get(str(config.get("mode", "AUTO")).upper(), "auto")
    allowed = config.get("allowedFunctionNames") or []
    forced = allowed[0] if mode == "required" and allowed else None
    generation = body.get("generationConfig") or {}
    chars = conv.text_chars(contents) + conv.text_chars(body.get("systemInstruction")) + conv.text_chars(tools)
    schema = generation.get("responseJsonSchema") or generation.get("_responseJsonSchema")
    if not isinstance(schema, Mapping) and isinstance(generation.get("responseSchema"), Mapping):
        schema = to_json_schema(generation["responseSchema"])
    top = generation.get("logprobs")
    return conv.Prompt(
        text=text,
        input_tokens=conv.estimate_tokens(chars),
        tools=tools,
        tool_choice=conv.ToolChoice(mode, forced),
        tool_result=tool_result,
        max_tokens=optional_int(generation, "maxOutputTokens"),
        stop=conv.stop_sequences(generation.get("stopSequences")),
        model=model,
        json_asked=generation.get("responseMimeType") == "application/json",
        json_schema=schema if isinstance(schema, Mapping) else None,
        logprobs=(top if isinstance(top, int) and not isinstance(top, bool) else 0)
        if generation.get("responseLogprobs") is True
        else None,
    )


def _check_call_turns(contents: list[Mapping[str, Any]]) -> None:
    """Gemini's 400 for a model turn that calls a function other than right after a user turn (a function
    response is one): a conversation that begins with the model's call (google-gemini/gemini-cli#11814).
    The model's contents in a row are one turn, as Gemini takes them: google-genai's streamed chat keeps
    one content per fragment, so a thought and then the call are two. A conversation that begins with a
    model text turn is taken."""
    turn_start = 0  # where the run of contents of one role holding ``index`` begins
    for index, content in enumerate(contents):
        role = content.get("role", "user")
        if index and role != contents[index - 1].get("role", "user"):
            turn_start = index
        parts = content.get("parts") if role == "model" else None
        calls = isinstance(parts, list) and any(isinstance(p, Mapping) and "functionCall" in p for p in parts)
        if calls and (turn_start == 0 or contents[turn_start - 1].get("role", "user") != "user"):
            raise RequestError(
                "Please ensure that function call turn comes immediately after a user turn or after a "
                "function response turn."
            )


def _json_schema_of(declaration: Mapping[str, Any]) -> Any:
    """A declaration's ``parametersJsonSchema``, in either spelling (google-genai sends the snake case one)."""
    return declaration.get("parametersJsonSchema") or declaration.get("parameters_json_schema")


def generate(call: Call, *, stream: bool = False) -> Reply:
    """``:generateContent``, or ``:streamGenerateContent`` when ``stream``."""
    model = call.path_params["model"]
    prompt = prompt_of(call.body, model)
    signatures.check_gemini(model, call.body["contents"])
    answer = conv.answer(prompt, call.reply, call.grading(model, prompt.text))
    asked_logprobs = prompt.logprobs is not None
    head = {"modelVersion": model, "responseId": call.ids.make_id("", 22, _ID_ALPHABET)}
    finish = "MAX_TOKENS" if answer.truncated else "STOP"
    usage: dict[str, Any] = {
        "promptTokenCount": answer.input_tokens,
        "candidatesTokenCount": answer.output_tokens,
        "totalTokenCount": answer.input_tokens + answer.output_tokens,
        "cachedContentTokenCount": 0,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": answer.input_tokens}],
    }

    def fragment(parts: list[dict[str, Any]], last: bool, logprobs: Sequence[TokenLogprob] = ()) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if asked_logprobs and logprobs:
            candidate["logprobsResult"] = _logprobs_result(logprobs)
            candidate["avgLogprobs"] = sum(item.logprob for item in logprobs) / len(logprobs)
        if last:
            candidate.update(_citation_metadata(answer))
            return {"candidates": [{**candidate, "finishReason": finish}], "usageMetadata": usage, **head}
        return {"candidates": [candidate], **head}

    calls: list[dict[str, Any]] = [{"functionCall": {"name": c.name, "args": c.arguments}} for c in answer.calls]
    signature = (
        signatures.gemini_signature(model, len(call.body["contents"])) if signatures.signs_thoughts(model) else None
    )
    if calls and signature:
        calls[0]["thoughtSignature"] = signature
    thoughts = _thought_parts(call.body, prompt)
    if thoughts:
        usage["thoughtsTokenCount"] = conv.estimate_tokens(thoughts[0]["text"])
        usage["totalTokenCount"] += usage["thoughtsTokenCount"]
    headers = quality_headers(answer)
    if not stream:
        text_part = {"text": answer.text, **({"thoughtSignature": signature} if signature else {})}
        body = fragment([*thoughts, *(calls or [text_part])], last=True, logprobs=answer.logprobs)
        generation = call.body.get("generationConfig") or call.body.get("generation_config") or {}
        count = answers_asked(generation.get("candidateCount", generation.get("candidate_count")))
        body["candidates"] = [{**body["candidates"][0], "index": index} for index in range(count)]
        usage["candidatesTokenCount"] = answer.output_tokens * count  # each candidate billed (in usageMetadata)
        usage["totalTokenCount"] = (
            answer.input_tokens + answer.output_tokens * count + usage.get("thoughtsTokenCount", 0)
        )
        return JsonReply(body, answer.output_tokens * count, headers)
    if calls:
        frames = [frame(fragment(calls, last=True), tokens=answer.output_tokens)]
    else:
        pieces = conv.split_text(answer.text)
        signed = [{"text": "", "thoughtSignature": signature}] if signature else []  # on a part of its own, last
        frames = [
            frame(
                fragment(
                    [{"text": piece}, *(signed if i == len(pieces) - 1 else [])],
                    last=i == len(pieces) - 1,
                    logprobs=answer.logprobs[i : i + 1],
                ),
                tokens=conv.estimate_tokens(piece),
            )
            for i, piece in enumerate(pieces)
        ]
    if thoughts:  # the thinking streams first, in a fragment of its own
        frames.insert(0, frame(fragment(thoughts, last=False), tokens=usage["thoughtsTokenCount"]))
    form = StreamFormat.SSE if call.query.get("alt") == "sse" else StreamFormat.JSON_ARRAY
    return StreamReply(tuple(frames), fixed(STREAM_ERROR), form, headers)


def _thought_parts(body: Mapping[str, Any], prompt: conv.Prompt) -> list[dict[str, Any]]:
    """A thought summary part (``thought: true``) when ``thinkingConfig.includeThoughts`` is true and the
    budget is not 0, as Gemini 2.5 and 3 answer it; else none."""
    generation = body.get("generationConfig") or body.get("generation_config") or {}
    thinking = generation.get("thinkingConfig") or generation.get("thinking_config") or {}
    include = thinking.get("includeThoughts", thinking.get("include_thoughts"))
    if include is not True or thinking.get("thinkingBudget", thinking.get("thinking_budget")) == 0:
        return []
    return [{"text": f"The user asks: {prompt.text[:60]}", "thought": True}]


def _citation_metadata(answer: conv.Answer) -> dict[str, Any]:
    """A ``fake:cite`` answer's ``citationMetadata`` (indices in bytes of the text in UTF-8), else nothing."""
    if answer.cited is None:
        return {}
    start, end = (len(answer.text[:index].encode()) for index in answer.cited)
    source = {"startIndex": start, "endIndex": end, "uri": conv.CITED_URL}
    return {"citationMetadata": {"citationSources": [source]}}


def _logprobs_result(items: Sequence[TokenLogprob]) -> dict[str, Any]:
    """Gemini's ``logprobsResult``: the chosen token at each step and the top candidates there."""
    return {
        "topCandidates": [
            {"candidates": [{"token": token, "logProbability": logprob} for token, logprob in item.top]}
            for item in items
        ],
        "chosenCandidates": [{"token": item.token, "logProbability": item.logprob} for item in items],
    }


def stream_generate(call: Call) -> Reply:
    """``:streamGenerateContent`` (SSE with ``?alt=sse``, else a streamed JSON array)."""
    return generate(call, stream=True)


def count_tokens(call: Call) -> Reply:
    """``:countTokens``: accepts ``contents`` or a whole ``generateContentRequest``."""
    body = call.body
    inner = body.get("generateContentRequest")
    tokens = prompt_of(inner if isinstance(inner, Mapping) else body).input_tokens
    return JsonReply({"totalTokens": tokens, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}]})
