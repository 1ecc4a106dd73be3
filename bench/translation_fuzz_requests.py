"""Seeded random *valid* chat requests of each caller dialect (bench/translation_fuzz.py's first half).

``conversation(rng)`` draws one neutral conversation (system prompts, turns of text, media, tool calls and
their results, thinking with signatures, edge strings: empty, RTL, NUL, emoji as escaped surrogate pairs),
and ``request(rng, caller, model, stream)`` writes it, with the settings a caller's SDK types allow
(tools and tool choice, response format, stop, several answers, log-probabilities, thinking, metadata,
big integers, floats in exponent form), as the path, headers and body that dialect's app sends. Every
body is one the caller's own provider would take: tool results answer earlier calls, Anthropic's turns
alternate, no text block of Anthropic's or part of Gemini's is empty.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from typing import Any

from translation_fuzz_talk import Call, Conversation, Turn, conversation, schema, text

from sidecar.fake_provider.signatures import anthropic_signature


@dataclass
class Request:
    """What an app sends: its dialect, path, headers and body (``stream`` as the app asked)."""

    caller: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    stream: bool


def maybe(rng: random.Random, body: dict[str, Any], name: str, choices: tuple[Any, ...], p: float = 0.25) -> None:
    if rng.random() < p:
        body[name] = rng.choice(choices)


def request(rng: random.Random, caller: str, model: str, stream: bool) -> Request:
    """A valid request of ``caller``'s dialect for ``model``, from a fresh conversation."""
    talk = conversation(rng)
    if caller == "openai":
        return Request(
            caller,
            "/v1/chat/completions",
            {"authorization": "Bearer app"},
            openai_body(rng, talk, model, stream),
            stream,
        )
    if caller == "anthropic":
        headers = {"x-api-key": "app", "anthropic-version": "2023-06-01"}
        return Request(caller, "/v1/messages", headers, anthropic_body(rng, talk, model, stream), stream)
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return Request(
        caller, f"/v1beta/models/{model}:{method}", {"x-goog-api-key": "app"}, gemini_body(rng, talk), stream
    )


# ---------------------------------------------------------------- OpenAI


def openai_part(rng: random.Random, kind: str, data: Any) -> dict[str, Any]:
    if kind == "text":
        return {"type": "text", "text": data}
    if kind == "image_b64":
        return {
            "type": "image_url",
            "image_url": {"url": f"data:image/png;base64,{data}", **rng.choice(({}, {"detail": "low"}))},
        }
    if kind == "image_url":
        return {"type": "image_url", "image_url": {"url": data}}
    if kind == "pdf":
        return {"type": "file", "file": {"filename": "a.pdf", "file_data": f"data:application/pdf;base64,{data}"}}
    return {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}


def openai_messages(rng: random.Random, talk: Conversation) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for line in talk.system:
        content: Any = line if rng.random() < 0.6 else [{"type": "text", "text": line}]
        messages.append({"role": rng.choice(("system", "developer")), "content": content})
    if rng.random() < 0.1:  # a chatbot's greeting before the user's first turn (OpenAI takes it)
        messages.append({"role": "assistant", "content": "Hi! How can I help? \u00e9"})
    for turn in agent_turns(rng, talk):
        if turn.role == "assistant":
            texts = [v for k, v in turn.parts if k == "text"]
            calls = [v for k, v in turn.parts if k == "call"]
            message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
            if not texts and not calls:  # a turn of thinking only: OpenAI wants content or calls
                message["content"] = ""
            if texts and rng.random() < 0.3:
                message["content"] = [{"type": "text", "text": t} for t in texts]
                if rng.random() < 0.2:  # an earlier answer's refusal, kept as OpenAI wrote it
                    message["content"].append({"type": "refusal", "refusal": "I can't \u00e9"})
            elif not calls and rng.random() < 0.05:
                message.update(content=None, refusal="I can't help with that")
            if calls:
                message["tool_calls"] = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": dumps_args(rng, c.args)}}
                    for c in calls
                ]
            messages.append(message)
            continue
        for kind, data in turn.parts:
            if kind == "result":
                call, content, _ = data
                body = content if isinstance(content, str) else dumps_args(rng, content)
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "content": rng.choice((body, [{"type": "text", "text": body}])),
                    }
                )
        others = [(k, v) for k, v in turn.parts if k != "result"]
        if others:
            if len(others) == 1 and others[0][0] == "text" and rng.random() < 0.5:
                messages.append({"role": "user", "content": others[0][1]})
            else:
                messages.append({"role": "user", "content": [openai_part(rng, k, v) for k, v in others]})
    return messages


def agent_turns(rng: random.Random, talk: Conversation) -> list[Turn]:
    """The conversation's turns, or sometimes, when its first answer calls a tool, without the user's first
    turn: an agent's history of its own calls (its task in the system prompt), which OpenAI and Anthropic
    take and Gemini refuses."""
    turns = talk.turns
    if len(turns) > 2 and any(kind == "call" for kind, _ in turns[1].parts) and rng.random() < 0.2:
        return turns[1:]
    return turns


def dumps_args(rng: random.Random, args: Any) -> str:
    return json.dumps(args, ensure_ascii=rng.random() < 0.5, indent=rng.choice((None, None, 2)))


def openai_body(rng: random.Random, talk: Conversation, model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": openai_messages(rng, talk)}
    if talk.tools:
        body["tools"] = [
            {"type": "function", "function": {**t, **rng.choice(({}, {"strict": False}))}} for t in talk.tools
        ]
        if rng.random() < 0.15:  # parameters and description are optional
            body["tools"].append({"type": "function", "function": {"name": "no_params"}})
        maybe(
            rng,
            body,
            "tool_choice",
            ("auto", "none", "required", {"type": "function", "function": {"name": talk.tools[0]["name"]}}),
            0.5,
        )
        maybe(rng, body, "parallel_tool_calls", (True, False))
    maybe(
        rng,
        body,
        "response_format",
        (
            {"type": "text"},
            {"type": "json_object"},
            {
                "type": "json_schema",
                "json_schema": {"name": "out", "description": "the answer", "schema": schema(rng), "strict": False},
            },
        ),
    )
    maybe(rng, body, rng.choice(("max_tokens", "max_completion_tokens")), (1, 64, 4096, 2**31 - 1))
    maybe(rng, body, "temperature", (0, 0.0, 1e-3, 1.5, 2))
    maybe(rng, body, "top_p", (1, 0.5, 1e-1))
    maybe(rng, body, "stop", ("\n\n", ["END"], ["a", "b\u00e9", "\U0001f600", "stop4"]))
    maybe(rng, body, "n", (1, 2) if not stream else (1,), 0.15)
    maybe(rng, body, "seed", (0, 42, 2**63 - 1, 2**64 + 1), 0.15)
    maybe(rng, body, "presence_penalty", (0, 0.5, -2.0), 0.15)
    maybe(rng, body, "frequency_penalty", (0, 1e-1), 0.15)
    maybe(rng, body, "reasoning_effort", ("minimal", "low", "medium", "high"), 0.15)
    maybe(rng, body, "user", ("u-1", "\u00fcser"), 0.15)
    maybe(rng, body, "metadata", ({"k": "v", "\u00e9": "\U0001f600"},), 0.15)
    maybe(rng, body, "store", (False, True), 0.1)
    maybe(rng, body, "prompt_cache_key", ("k-\u00e9",), 0.05)
    maybe(rng, body, "safety_identifier", ("sid",), 0.05)
    maybe(rng, body, "modalities", (["text"],), 0.05)
    maybe(rng, body, "stop", (None, []), 0.05)
    maybe(rng, body, "service_tier", ("auto", "default"), 0.1)
    if rng.random() < 0.15:
        body["logprobs"] = True
        maybe(rng, body, "top_logprobs", (0, 3, 20), 0.7)
    if stream:
        body["stream"] = True
        maybe(
            rng,
            body,
            "stream_options",
            ({"include_usage": True}, {"include_usage": False}, {"include_usage": True, "include_obfuscation": False}),
            0.6,
        )
    elif rng.random() < 0.2:
        body["stream"] = False
    return body


# ---------------------------------------------------------------- Anthropic


def anthropic_part(rng: random.Random, kind: str, data: Any) -> dict[str, Any]:
    if kind == "text":
        block: dict[str, Any] = {"type": "text", "text": data or "."}
    elif kind == "image_b64":
        block = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}
    elif kind == "image_url":
        block = {"type": "image", "source": {"type": "url", "url": data}}
    elif kind == "pdf":
        block = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}}
        maybe(rng, block, "title", ("a doc",))
    else:  # Anthropic has no audio: a text source document stands in
        block = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain \u00e9"}}
    if rng.random() < 0.15:
        block["cache_control"] = {"type": "ephemeral", **rng.choice(({}, {"ttl": "1h"}))}
    return block


def anthropic_turn(rng: random.Random, turn: Turn) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    for kind, data in sorted(turn.parts, key=lambda p: p[0] != "result"):  # results first, as Anthropic wants
        if kind == "thinking":
            words, signature = data
            signed = {"type": "thinking", "thinking": words, "signature": anthropic_signature(words)}
            blocks.append(rng.choice((signed, {"type": "redacted_thinking", "data": signature})))
        elif kind == "call":
            call_block = {"type": "tool_use", "id": data.id, "name": data.name, "input": data.args}
            if rng.random() < 0.3:  # an answer's block as the SDKs send it back: the model made the call
                call_block["caller"] = {"type": "direct"}
            blocks.append(call_block)
        elif kind == "result":
            call, content, failed = data
            body = content if isinstance(content, str) else dumps_args(rng, content)
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": call.id}
            result["content"] = rng.choice((body, [{"type": "text", "text": body}]))
            if rng.random() < 0.05:  # content is optional: a tool that returned nothing
                del result["content"]
            if failed:
                result["is_error"] = True
            blocks.append(result)
        else:
            blocks.append(anthropic_part(rng, kind, data))
    if len(blocks) == 1 and blocks[0]["type"] == "text" and "cache_control" not in blocks[0] and rng.random() < 0.5:
        return {"role": turn.role, "content": blocks[0]["text"]}
    return {"role": turn.role, "content": blocks}


def anthropic_body(rng: random.Random, talk: Conversation, model: str, stream: bool) -> dict[str, Any]:
    thinking = rng.random() < 0.15
    if thinking and len(talk.turns) > 1 and talk.turns[-2].parts[0][0] != "thinking":
        # with thinking on, a tool loop's last assistant turn starts with its (signed) thinking
        talk.turns[-2].parts.insert(0, ("thinking", (text(rng, empty=False), "sig")))
    elif not thinking and rng.random() < 0.08:  # a prefill (not with thinking): the answer's start
        talk.turns.append(Turn("assistant", [("text", "Sure, " + text(rng, empty=False))]))
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": rng.choice((1, 64, 1024)),
        "messages": [anthropic_turn(rng, t) for t in agent_turns(rng, talk)],
    }
    if talk.system:
        if rng.random() < 0.5:
            body["system"] = "\n".join(talk.system)
        else:
            body["system"] = [
                {"type": "text", "text": s, **rng.choice(({}, {"cache_control": {"type": "ephemeral"}}))}
                for s in talk.system
            ]
    if talk.tools:
        body["tools"] = [
            {
                "name": t["name"],
                "description": t["description"],
                "input_schema": t["parameters"],
                **rng.choice(({}, {"cache_control": {"type": "ephemeral"}})),
            }
            for t in talk.tools
        ]
        if rng.random() < 0.5:
            choice = rng.choice(
                ({"type": "auto"}, {"type": "any"}, {"type": "none"}, {"type": "tool", "name": talk.tools[-1]["name"]})
            )
            if choice["type"] != "none" and rng.random() < 0.3:
                choice["disable_parallel_tool_use"] = rng.random() < 0.5
            body["tool_choice"] = choice
    if thinking:
        body["max_tokens"] = 4096
        body["thinking"] = rng.choice(({"type": "enabled", "budget_tokens": 1024}, {"type": "disabled"}))
    else:
        maybe(rng, body, "temperature", (0, 1, 0.5, 1e-2))
    maybe(rng, body, "top_p", (0.9, 1))
    maybe(rng, body, "top_k", (1, 40), 0.15)
    maybe(rng, body, "stop_sequences", ([],), 0.05)
    maybe(rng, body, "metadata", ({},), 0.05)
    maybe(rng, body, "stop_sequences", (["END"], ["\u00e9", "\n\nHuman:"]))
    maybe(rng, body, "metadata", ({"user_id": "u-\u00e9"},), 0.15)
    maybe(rng, body, "service_tier", ("auto", "standard_only"), 0.1)
    if stream:
        body["stream"] = True
    elif rng.random() < 0.2:
        body["stream"] = False
    return body


# ---------------------------------------------------------------- Gemini


def gemini_part(rng: random.Random, kind: str, data: Any, calls: dict[str, Call]) -> dict[str, Any]:
    if kind == "text":
        return {"text": data or "."}
    if kind == "image_b64":
        return {"inlineData": {"mimeType": "image/png", "data": data}}
    if kind == "image_url":
        return {"fileData": {"fileUri": data, **rng.choice(({"mimeType": "image/png"}, {}))}}
    if kind == "pdf":
        return {"inlineData": {"mimeType": "application/pdf", "data": data}}
    if kind == "audio":
        return {"inlineData": {"mimeType": "audio/wav", "data": data}}
    if kind == "thinking":
        words, signature = data
        return {"text": words, "thought": True, "thoughtSignature": base64.b64encode(signature.encode()).decode()}
    if kind == "call":
        calls[data.id] = data
        return {"functionCall": {"name": data.name, "args": data.args, **rng.choice(({}, {"id": data.id}))}}
    call, content, _ = data
    response = content if isinstance(content, dict) else {"result": content}
    return {"functionResponse": {"name": call.name, "response": response, **rng.choice(({}, {"id": call.id}))}}


def gemini_body(rng: random.Random, talk: Conversation) -> dict[str, Any]:
    calls: dict[str, Call] = {}
    contents = [
        {
            "role": "model" if t.role == "assistant" else "user",
            "parts": [gemini_part(rng, k, v, calls) for k, v in t.parts],
        }
        for t in talk.turns
    ]
    if len(contents) == 1 and rng.random() < 0.3:  # one turn: its role may be left out
        del contents[0]["role"]
    body: dict[str, Any] = {"contents": contents}
    if talk.system:
        body["systemInstruction"] = {"parts": [{"text": s} for s in talk.system], **rng.choice(({}, {"role": "user"}))}
    if talk.tools:
        declarations = [dict(t) for t in talk.tools]
        for declaration in declarations:
            if rng.random() < 0.3:  # the JSON Schema form (google-genai's parameters_json_schema)
                declaration["parametersJsonSchema"] = declaration.pop("parameters")
            elif rng.random() < 0.3:  # the OpenAPI form, types in capitals
                declaration["parameters"] = openapi(declaration["parameters"])
        body["tools"] = [{"functionDeclarations": declarations}]
        if rng.random() < 0.4:
            mode = rng.choice(("AUTO", "ANY", "NONE"))
            config: dict[str, Any] = {"mode": mode}
            if mode == "ANY" and rng.random() < 0.5:
                config["allowedFunctionNames"] = [talk.tools[0]["name"]]
            body["toolConfig"] = {"functionCallingConfig": config}
    generation: dict[str, Any] = {}
    maybe(rng, generation, "temperature", (0, 1.0, 2, 5e-1))
    maybe(rng, generation, "topP", (0.95, 1))
    maybe(rng, generation, "topK", (1, 40), 0.15)
    maybe(rng, generation, "maxOutputTokens", (1, 64, 8192))
    maybe(rng, generation, "candidateCount", (1, 2), 0.1)
    maybe(rng, generation, "stopSequences", (["END"], ["\u00e9", "\U0001f600"]))
    maybe(rng, generation, "seed", (7, 2**31 - 1), 0.1)
    maybe(rng, generation, "presencePenalty", (0, 0.5), 0.1)
    if rng.random() < 0.2:
        generation["responseMimeType"] = "application/json"
        if rng.random() < 0.4:
            generation["responseSchema"] = openapi(schema(rng))
        elif rng.random() < 0.6:
            generation["responseJsonSchema"] = schema(rng)
    if rng.random() < 0.1:
        generation["responseLogprobs"] = True
        maybe(rng, generation, "logprobs", (1, 5), 0.7)
    if rng.random() < 0.15:
        generation["thinkingConfig"] = rng.choice(
            ({"thinkingBudget": 1024, "includeThoughts": True}, {"thinkingBudget": 0}, {"thinkingLevel": "low"})
        )
    if generation or rng.random() < 0.1:
        body["generationConfig"] = generation
    maybe(rng, body, "safetySettings", ([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}], []), 0.1)
    maybe(rng, body, "labels", ({"team": "a"},), 0.1)
    if rng.random() < 0.1:  # the REST API takes snake_case names too
        body = {SNAKE.get(k, k): v for k, v in body.items()}
        if "generation_config" in body:
            body["generation_config"] = {SNAKE.get(k, k): v for k, v in body["generation_config"].items()}
    return body


SNAKE = {
    "systemInstruction": "system_instruction",
    "generationConfig": "generation_config",
    "toolConfig": "tool_config",
    "maxOutputTokens": "max_output_tokens",
    "stopSequences": "stop_sequences",
    "responseMimeType": "response_mime_type",
}


def openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema in Gemini's OpenAPI form: types in capitals, ``nullable``, ``propertyOrdering``."""
    out: dict[str, Any] = {}
    for key, item in schema.items():
        if key == "type":
            out["type"] = str(item).upper()
        elif key == "properties":
            out["properties"] = {name: openapi(prop) for name, prop in item.items()}
            out["propertyOrdering"] = list(item)
        elif key == "items":
            out["items"] = openapi(item)
        else:
            out[key] = item
    if out.get("type") == "STRING":
        out["nullable"] = True
    return out
