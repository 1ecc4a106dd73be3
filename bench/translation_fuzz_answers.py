"""Seeded random *valid* answers of each upstream dialect, read by each caller's official SDK
(bench/translation_fuzz.py's second half).

``answer_of(seed)`` draws one neutral answer: text segments (empty, long unicode, NUL, RTL), tool calls
with nested JSON arguments (big integers, exponent floats), thinking with a signature, a finish reason
(stop, length, tool calls, content filter; each dialect's spellings: Anthropic ``stop_sequence`` and
``pause_turn``, Gemini ``RECITATION``, ``OTHER``...), usage with cache reads and writes and reasoning
tokens. ``AnswerServer`` (a real loopback HTTP server) answers a request with the answer of the seed
written in its prompt (``fuzzseed-N``), in the dialect of the path it was called on, whole or streamed
(text in fragments, tool arguments in fragments, pings), as that provider writes it.

``run_answers`` sends, per seed, a request of a caller dialect through its official SDK (openai,
anthropic, google-genai: whole, and streamed through the SDK's stream helper, ``chat.completions.stream``
/ ``messages.stream`` final message, or google-genai's chunks joined) to the sidecar, routed to an
upstream of another dialect or its own, and checks what the SDK parsed against the answer drawn:
text, each call's name and arguments, finish reason and usage as docs/translation.md maps them.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from translation_fuzz_checks import log_problems
from translation_fuzz_requests import EDGE_TEXTS, TYPES, value
from translation_fuzz_stack import UPSTREAMS, Stack, start

DIALECTS = ("openai", "anthropic", "gemini")
SEED = re.compile(rb"fuzzseed-(\d+)")
TOOLS = {
    "get_weather": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "extra": {"type": "object"}},
    },
    "lookup-order": {"type": "object", "properties": {"order": {"type": "integer"}, "items": {"type": "array"}}},
}
# Each kind of finish, as each upstream dialect may spell it
FINISH = {
    "openai": {"stop": ["stop"], "length": ["length"], "tool": ["tool_calls"], "filter": ["content_filter"]},
    "anthropic": {
        "stop": ["end_turn", "stop_sequence", "pause_turn"],
        "length": ["max_tokens", "model_context_window_exceeded"],
        "tool": ["tool_use"],
        "filter": ["refusal"],
    },
    "gemini": {
        "stop": ["STOP", "OTHER"],
        "length": ["MAX_TOKENS"],
        "tool": ["STOP"],
        "filter": ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"],
    },
}
# ... and what a caller of another dialect gets for each kind (docs/translation.md, "Finish reasons")
CALLER_FINISH = {
    "openai": {"stop": "stop", "length": "length", "tool": "tool_calls", "filter": "content_filter"},
    "anthropic": {"stop": "end_turn", "length": "max_tokens", "tool": "tool_use", "filter": "refusal"},
    "gemini": {"stop": "STOP", "length": "MAX_TOKENS", "tool": "STOP", "filter": "SAFETY"},
}


@dataclass
class Answer:
    texts: list[str]
    calls: list[tuple[str, str, dict[str, Any]]]  # id, name, arguments
    thinking: tuple[str, str] | None  # text, signature
    finish: str  # stop, length, tool, filter
    spelled: str  # the finish reason as the upstream writes it
    usage: dict[str, int]  # input (cached included), cached, written (Anthropic), output, reasoning
    fragments: list[int] = field(default_factory=list)  # where streamed arguments are cut

    @property
    def text(self) -> str:
        return "".join(self.texts)


def edge_text(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return ""
    return rng.choice(EDGE_TEXTS).replace("\ud800", "") + f" #{rng.randrange(100)}"


def answer_of(seed: int, upstream: str) -> Answer:
    """Seed ``seed``'s answer, written by an upstream of dialect ``upstream``."""
    rng = random.Random(seed * 7919 + 1)
    calls = []
    if rng.random() < 0.4:
        for n in range(rng.randint(1, 3)):
            name = rng.choice(sorted(TOOLS))
            args = {key: value(rng, prop["type"]) for key, prop in TOOLS[name]["properties"].items() if rng.random() < 0.8}
            if rng.random() < 0.2:
                args["nested"] = value(rng, "object")
            calls.append((f"call_{seed}_{n}", name, args))
    texts = [edge_text(rng) for _ in range(rng.randint(0 if calls else 1, 4))]
    if calls:
        finish = "tool"
    else:
        finish = rng.choice(("stop", "stop", "stop", "length", "filter"))
    thinking = (edge_text(rng) or "hmm", f"sig{seed}==") if rng.random() < 0.3 else None
    total_in = rng.choice((0, 1, 17, 123456, 10**9))  # a billion: the most a count may be (docs/budgets.md)
    cached = rng.choice((0, 0, min(5, total_in)))
    written = rng.choice((0, 0, min(3, total_in - cached))) if upstream == "anthropic" else 0
    output = rng.choice((0, 1, 42, 100000))
    reasoning = rng.choice((0, min(7, output))) if thinking else 0
    usage = {"input": total_in, "cached": cached, "written": written, "output": output, "reasoning": reasoning}
    return Answer(texts, calls, thinking, finish, rng.choice(FINISH[upstream][finish]), usage)


def cuts(text: str, rng: random.Random) -> list[str]:
    """``text`` cut in one to four fragments at random places."""
    points = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(0, 3)))) if len(text) > 1 else []
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


# ---------------------------------------------------------------- the upstream's wire


def openai_usage(a: Answer) -> dict[str, Any]:
    u = a.usage
    return {
        "prompt_tokens": u["input"],
        "completion_tokens": u["output"],
        "total_tokens": u["input"] + u["output"],
        "prompt_tokens_details": {"cached_tokens": u["cached"]},
        "completion_tokens_details": {"reasoning_tokens": u["reasoning"]},
    }


def openai_whole(a: Answer, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": a.text if a.texts else None, "refusal": None}
    if a.thinking:
        message["reasoning_content"] = a.thinking[0]
    if a.calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(args)}} for i, n, args in a.calls
        ]
    choice = {"index": 0, "message": message, "finish_reason": a.spelled, "logprobs": None}
    return {"id": "chatcmpl-fz", "object": "chat.completion", "created": 1, "model": model, "choices": [choice], "usage": openai_usage(a)}


def openai_events(a: Answer, model: str, rng: random.Random, usage: bool) -> list[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        body = {"id": "chatcmpl-fz", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [choice]}
        return f"data: {json.dumps(body)}\n\n"

    out = [chunk({"role": "assistant", "content": ""})]
    if a.thinking:
        out += [chunk({"reasoning_content": piece}) for piece in cuts(a.thinking[0], rng)]
    out += [chunk({"content": t}) for t in a.texts]
    for index, (call_id, name, args) in enumerate(a.calls):
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        out.append(chunk({"tool_calls": [head]}))
        for piece in cuts(json.dumps(args), rng):
            out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    out.append(chunk({}, a.spelled))
    if usage:
        body = {"id": "chatcmpl-fz", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [], "usage": openai_usage(a)}
        out.append(f"data: {json.dumps(body)}\n\n")
    return [*out, "data: [DONE]\n\n"]


def anthropic_usage(a: Answer, output: bool = True) -> dict[str, Any]:
    u = a.usage
    return {
        "input_tokens": u["input"] - u["cached"] - u["written"],
        "cache_read_input_tokens": u["cached"],
        "cache_creation_input_tokens": u["written"],
        "output_tokens": u["output"] if output else min(1, u["output"]),  # message_start: the first token
    }


def anthropic_blocks(a: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if a.thinking:
        blocks.append({"type": "thinking", "thinking": a.thinking[0], "signature": a.thinking[1]})
    blocks += [{"type": "text", "text": t, "citations": None} for t in a.texts]
    blocks += [{"type": "tool_use", "id": f"toolu_{i}", "name": n, "input": args} for i, n, args in a.calls]
    return blocks


def anthropic_whole(a: Answer, model: str) -> dict[str, Any]:
    return {
        "id": "msg_fz",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": anthropic_blocks(a),
        "stop_reason": a.spelled,
        "stop_sequence": "END" if a.spelled == "stop_sequence" else None,
        "usage": anthropic_usage(a),
    }


def anthropic_events(a: Answer, model: str, rng: random.Random) -> list[str]:
    def event(kind: str, **body: Any) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **body})}\n\n"

    head = {**anthropic_whole(a, model), "content": [], "stop_reason": None, "stop_sequence": None}
    head["usage"] = anthropic_usage(a, output=False)
    out = [event("message_start", message=head), event("ping")]
    for index, block in enumerate(anthropic_blocks(a)):
        kind = block["type"]
        empty = {"text": {"text": ""}, "thinking": {"thinking": "", "signature": ""}, "tool_use": {"input": {}}}[kind]
        start_block = {**block, **empty}
        out.append(event("content_block_start", index=index, content_block=start_block))
        if kind == "text":
            out += [event("content_block_delta", index=index, delta={"type": "text_delta", "text": p}) for p in cuts(block["text"], rng)]
        elif kind == "thinking":
            out += [
                event("content_block_delta", index=index, delta={"type": "thinking_delta", "thinking": p})
                for p in cuts(block["thinking"], rng)
            ]
            out.append(event("content_block_delta", index=index, delta={"type": "signature_delta", "signature": block["signature"]}))
        else:
            out += [
                event("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": p})
                for p in cuts(json.dumps(block["input"]), rng) or [""]
            ]
        out.append(event("content_block_stop", index=index))
    stop = {"stop_reason": a.spelled, "stop_sequence": "END" if a.spelled == "stop_sequence" else None}
    out.append(event("message_delta", delta=stop, usage={"output_tokens": a.usage["output"]}))
    return [*out, event("message_stop")]


def gemini_usage(a: Answer) -> dict[str, Any]:
    u = a.usage
    usage = {
        "promptTokenCount": u["input"],
        "candidatesTokenCount": u["output"] - u["reasoning"],
        "totalTokenCount": u["input"] + u["output"],
    }
    if u["cached"]:
        usage["cachedContentTokenCount"] = u["cached"]
    if u["reasoning"]:
        usage["thoughtsTokenCount"] = u["reasoning"]
    return usage


def gemini_parts(a: Answer) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if a.thinking:
        parts.append({"text": a.thinking[0], "thought": True, "thoughtSignature": "c2lnbmVk"})
    parts += [{"text": t} for t in a.texts]
    parts += [{"functionCall": {"name": n, "args": args}} for _, n, args in a.calls]
    return parts


def gemini_whole(a: Answer, model: str) -> dict[str, Any]:
    candidate = {"content": {"role": "model", "parts": gemini_parts(a)}, "finishReason": a.spelled, "index": 0}
    return {"candidates": [candidate], "usageMetadata": gemini_usage(a), "modelVersion": model, "responseId": "fz"}


def gemini_events(a: Answer, model: str) -> list[str]:
    parts = gemini_parts(a)
    calls = [p for p in parts if "functionCall" in p]
    rest = [p for p in parts if "functionCall" not in p]
    out = []
    for part in rest:
        fragment = {"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}], "modelVersion": model, "responseId": "fz"}
        out.append(fragment)
    last_parts = calls or [{"text": ""}]
    last = {"content": {"role": "model", "parts": last_parts}, "finishReason": a.spelled, "index": 0}
    out.append({"candidates": [last], "usageMetadata": gemini_usage(a), "modelVersion": model, "responseId": "fz"})
    return [f"data: {json.dumps(f)}\r\n\r\n" for f in out]


class AnswerServer:
    """Answers each call with its seed's answer, in the dialect of the path called."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.openai)
        app.router.add_post("/openai/deployments/{name}/chat/completions", self.openai)
        app.router.add_post("/v1/messages", self.anthropic)
        app.router.add_post("/v1beta/models/{method}", self.gemini)
        return app

    @staticmethod
    async def read(request: web.Request, upstream: str) -> tuple[Answer, dict[str, Any], random.Random]:
        raw = await request.read()
        found = SEED.search(raw)
        seed = int(found.group(1)) if found else 0
        return answer_of(seed, upstream), json.loads(raw), random.Random(seed)

    async def stream(self, request: web.Request, events: list[str]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for text in events:
            await response.write(text.encode())
        await response.write_eof()
        return response

    async def openai(self, request: web.Request) -> web.StreamResponse:
        answer, body, rng = await self.read(request, "openai")
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await self.stream(request, openai_events(answer, body["model"], rng, usage))
        return web.json_response(openai_whole(answer, body.get("model", "m")))

    async def anthropic(self, request: web.Request) -> web.StreamResponse:
        answer, body, rng = await self.read(request, "anthropic")
        if body.get("stream"):
            return await self.stream(request, anthropic_events(answer, body["model"], rng))
        return web.json_response(anthropic_whole(answer, body["model"]))

    async def gemini(self, request: web.Request) -> web.StreamResponse:
        answer, _, _ = await self.read(request, "gemini")
        model, _, method = request.match_info["method"].partition(":")
        if method == "streamGenerateContent":
            return await self.stream(request, gemini_events(answer, model))
        return web.json_response(gemini_whole(answer, model))


# ---------------------------------------------------------------- the caller's SDK


@dataclass
class Parsed:
    """What the caller's SDK gave: text, calls (name, arguments), finish reason, usage as the neutral keys."""

    text: str
    calls: list[tuple[str, Any]]
    finish: str | None
    usage: dict[str, int | None]


async def openai_chunks(client: Any, **request: Any) -> Any:
    """A stream read chunk by chunk into a completion's parts (the SDK's ``stream()`` helper raises on a
    ``length`` or ``content_filter`` finish, as it cannot parse such an answer)."""
    text, calls, finish, usage = "", collections.defaultdict(lambda: ["", ""]), None, None
    async for chunk in await client.chat.completions.create(stream=True, **request):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or ():
                calls[call.index][0] += call.function.name or "" if call.function else ""
                calls[call.index][1] += call.function.arguments or "" if call.function else ""
            finish = choice.finish_reason or finish
    return text, [(name, json.loads(args)) for name, args in calls.values()], finish, usage


async def via_openai(url: str, model: str, prompt: str, stream: bool) -> Parsed:
    import openai

    tools = [{"type": "function", "function": {"name": n, "parameters": s}} for n, s in TOOLS.items()]
    messages = [{"role": "user", "content": prompt}]
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="app", max_retries=0, timeout=30) as client:
        if stream and "fuzzfinish-plain" in prompt:
            options = {"stream_options": {"include_usage": True}}
            text, calls, finish, u = await openai_chunks(client, model=model, messages=messages, tools=tools, **options)
            return Parsed(text, calls, finish, usage_of(u))
        if stream:
            options = {"stream_options": {"include_usage": True}}
            async with client.chat.completions.stream(model=model, messages=messages, tools=tools, **options) as events:  # type: ignore[arg-type]
                async for _ in events:
                    pass
                reply = await events.get_final_completion()
        else:
            reply = await client.chat.completions.create(model=model, messages=messages, tools=tools)  # type: ignore[arg-type]
    choice = reply.choices[0]
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls or ()]  # type: ignore[union-attr]
    return Parsed(choice.message.content or "", calls, choice.finish_reason, usage_of(reply.usage))


def usage_of(u: Any) -> dict[str, int | None]:
    """An OpenAI usage as the neutral keys ({} when absent)."""
    if u is None:
        return {}
    cached = u.prompt_tokens_details.cached_tokens if u.prompt_tokens_details else None
    return {"input": u.prompt_tokens, "output": u.completion_tokens, "cached": cached or 0}


async def via_anthropic(url: str, model: str, prompt: str, stream: bool) -> Parsed:
    import anthropic

    tools = [{"name": n, "input_schema": s} for n, s in TOOLS.items()]
    messages = [{"role": "user", "content": prompt}]
    async with anthropic.AsyncAnthropic(base_url=url, api_key="app", max_retries=0, timeout=30) as client:
        if stream:
            async with client.messages.stream(model=model, max_tokens=1024, messages=messages, tools=tools) as events:  # type: ignore[arg-type]
                async for _ in events:
                    pass
                reply = await events.get_final_message()
        else:
            reply = await client.messages.create(model=model, max_tokens=1024, messages=messages, tools=tools)  # type: ignore[arg-type]
    text = "".join(b.text for b in reply.content if b.type == "text")
    calls = [(b.name, b.input) for b in reply.content if b.type == "tool_use"]
    u = reply.usage
    total_in = u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
    usage: dict[str, int | None] = {"input": total_in, "output": u.output_tokens, "cached": u.cache_read_input_tokens or 0}
    return Parsed(text, calls, reply.stop_reason, usage)


async def via_gemini(url: str, model: str, prompt: str, stream: bool) -> Parsed:
    import httpx2
    from google import genai
    from google.genai import types

    tools = [types.Tool(function_declarations=[types.FunctionDeclaration(name=n, parameters_json_schema=s) for n, s in TOOLS.items()])]
    config = types.GenerateContentConfig(tools=tools, automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    async with httpx2.AsyncClient() as transport:
        client = genai.Client(api_key="app", http_options=types.HttpOptions(base_url=url, httpx_async_client=transport))
        if stream:
            chunks = [c async for c in await client.aio.models.generate_content_stream(model=model, contents=prompt, config=config)]
        else:
            chunks = [await client.aio.models.generate_content(model=model, contents=prompt, config=config)]
    text, calls, finish, usage_seen = "", [], None, None
    for chunk in chunks:
        for candidate in chunk.candidates or ():
            for part in (candidate.content.parts if candidate.content else None) or ():
                if part.text is not None and not part.thought:
                    text += part.text
                if part.function_call:
                    calls.append((part.function_call.name, part.function_call.args))
            finish = candidate.finish_reason.value if candidate.finish_reason else finish
        usage_seen = chunk.usage_metadata or usage_seen
    usage: dict[str, int | None] = {}
    if usage_seen is not None:
        output = (usage_seen.candidates_token_count or 0) + (usage_seen.thoughts_token_count or 0)
        usage = {"input": usage_seen.prompt_token_count or 0, "output": output, "cached": usage_seen.cached_content_token_count or 0}
    return Parsed(text, calls, finish, usage)


CALLERS = {"openai": via_openai, "anthropic": via_anthropic, "gemini": via_gemini}


def expected_finish(caller: str, upstream: str, answer: Answer) -> str:
    if caller == upstream:
        return answer.spelled
    if upstream == "gemini" and answer.spelled == "OTHER":
        return CALLER_FINISH[caller]["stop"]
    return CALLER_FINISH[caller][answer.finish]


def compare(caller: str, upstream: str, answer: Answer, parsed: Parsed) -> list[str]:
    """What the SDK parsed that is not the answer drawn."""
    out = []
    if parsed.text != answer.text:
        out.append(f"text {parsed.text[:200]!r} != {answer.text[:200]!r}")
    wanted = [(name, args) for _, name, args in answer.calls]
    if parsed.calls != wanted:
        out.append(f"calls {json.dumps(parsed.calls)[:400]} != {json.dumps(wanted)[:400]}")
    finish = expected_finish(caller, upstream, answer)
    if parsed.finish != finish:
        out.append(f"finish {parsed.finish!r} != {finish!r} (upstream {answer.spelled})")
    u = answer.usage
    if parsed.usage != {"input": u["input"], "output": u["output"], "cached": u["cached"]}:
        out.append(f"usage {parsed.usage} != {u}")
    return out


def plan(seed: int) -> tuple[str, str, bool]:
    rng = random.Random(seed)
    return rng.choice(DIALECTS), rng.choice(UPSTREAMS), rng.random() < 0.5


async def run_answers(first: int, seeds: int, show: bool) -> tuple[int, collections.Counter[str]]:
    from translation_fuzz_stack import UPSTREAM_DIALECT

    server = AnswerServer()
    stack: Stack = await start({name: server.app() for name in UPSTREAMS})
    stats: collections.Counter[str] = collections.Counter()
    violations = 0
    try:
        for seed in range(first, first + seeds):
            caller, upstream, stream = plan(seed)
            answer = answer_of(seed, UPSTREAM_DIALECT[upstream])
            if show:
                print(f"# seed {seed}: {caller} <- {upstream} {'stream' if stream else 'whole'}: {answer}")
            _, offset = stack.log_lines()
            problems: list[str] = []
            try:
                plain = " fuzzfinish-plain" if answer.finish in ("length", "filter") else ""
                parsed = await CALLERS[caller](stack.url, f"to-{upstream}", f"answer fuzzseed-{seed}{plain}", stream)
            except Exception as error:  # noqa: BLE001 - an SDK that raises is the violation reported
                problems.append(f"the SDK raised {type(error).__name__}: {str(error)[:600]}")
            else:
                problems += compare(caller, UPSTREAM_DIALECT[upstream], answer, parsed)
            lines, _ = stack.log_lines(offset)
            problems += log_problems(lines)
            stats[f"{caller}<-{upstream}{' stream' if stream else ''}: {'ok' if not problems else 'violated'}"] += 1
            for problem in problems:
                violations += 1
                print(f"VIOLATION answers seed {seed} ({caller} <- {upstream}, {'stream' if stream else 'whole'}): {problem}")
            await asyncio.sleep(0)
    finally:
        await stack.close()
    return violations, stats
