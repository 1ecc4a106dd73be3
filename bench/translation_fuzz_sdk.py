"""Each caller's official SDK reading the answers of bench/translation_fuzz_answers.py through the
sidecar (bench/translation_fuzz.py's second half).

``run_answers`` sends, per seed, a request of a caller dialect through its official SDK (``Clients``:
openai, anthropic, google-genai; whole, and streamed through the SDK's stream helper,
``chat.completions.stream`` / ``messages.stream`` final message, or google-genai's chunks joined) to the
sidecar, routed to an upstream of another dialect or its own, and checks what the SDK parsed
(``Parsed``) against the answer drawn (``compare``): the text (a refusal's text for an app of another
dialect), each call's name and arguments, a second answer, the finish reason and the usage, as
docs/translation.md maps them; no error-level log line.
"""

from __future__ import annotations

import collections
import json
import random
from dataclasses import dataclass
from typing import Any

from translation_fuzz_answers import TOOLS, Answer, AnswerServer, answer_of
from translation_fuzz_checks import log_problems
from translation_fuzz_stack import UPSTREAM_DIALECT, UPSTREAMS, Stack, start

DIALECTS = ("openai", "anthropic", "gemini")
# What a caller gets for each kind of finish from another dialect (docs/translation.md, "Finish reasons")
CALLER_FINISH = {
    "openai": {"stop": "stop", "length": "length", "tool": "tool_calls", "filter": "content_filter"},
    "anthropic": {"stop": "end_turn", "length": "max_tokens", "tool": "tool_use", "filter": "refusal"},
    "gemini": {"stop": "STOP", "length": "MAX_TOKENS", "tool": "STOP", "filter": "SAFETY"},
}


@dataclass
class Parsed:
    """What the caller's SDK gave: text, calls (name, arguments), finish reason, usage as the neutral keys."""

    text: str
    calls: list[tuple[str, Any]]
    finish: str | None
    usage: dict[str, int | None]
    refusal: str | None = None
    second: str | None = None  # the second answer's text, when there is one


async def openai_chunks(client: Any, **request: Any) -> Any:
    """A stream read chunk by chunk into a completion's parts (the SDK's ``stream()`` helper raises on a
    ``length`` or ``content_filter`` finish, as it cannot parse such an answer)."""
    text, refusal, calls, finish, usage = "", None, collections.defaultdict(lambda: ["", ""]), None, None
    async for chunk in await client.chat.completions.create(stream=True, **request):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            if choice.delta.refusal is not None:
                refusal = (refusal or "") + choice.delta.refusal
            for call in choice.delta.tool_calls or ():
                calls[call.index][0] += call.function.name or "" if call.function else ""
                calls[call.index][1] += call.function.arguments or "" if call.function else ""
            finish = choice.finish_reason or finish
    return text, refusal, [(name, json.loads(args)) for name, args in calls.values()], finish, usage


class Clients:
    """The official SDKs' clients at the sidecar (``url``), without retries; ``close`` them after use."""

    def __init__(self, url: str) -> None:
        import anthropic
        import httpx2
        import openai
        from google import genai
        from google.genai import types

        self.openai = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="app", max_retries=0, timeout=30)
        self.anthropic = anthropic.AsyncAnthropic(base_url=url, api_key="app", max_retries=0, timeout=30)
        self.transport = httpx2.AsyncClient()
        options = types.HttpOptions(base_url=url, httpx_async_client=self.transport)
        self.gemini = genai.Client(api_key="app", http_options=options)

    async def close(self) -> None:
        await self.openai.close()
        await self.anthropic.close()
        await self.transport.aclose()


async def via_openai(clients: Clients, model: str, prompt: str, stream: bool) -> Parsed:
    several = {"n": 2} if "fuzzchoices-2" in prompt else {}

    tools = [{"type": "function", "function": {"name": n, "parameters": s}} for n, s in TOOLS.items()]
    messages = [{"role": "user", "content": prompt}]
    client = clients.openai
    if stream and "fuzzfinish-plain" in prompt:
        options = {"stream_options": {"include_usage": True}}
        text, refusal, calls, finish, u = await openai_chunks(
            client, model=model, messages=messages, tools=tools, **options
        )
        return Parsed(text, calls, finish, usage_of(u), refusal=refusal)
    if stream:
        options = {"stream_options": {"include_usage": True}}
        async with client.chat.completions.stream(model=model, messages=messages, tools=tools, **options) as events:  # type: ignore[arg-type]
            async for _ in events:
                pass
            reply = await events.get_final_completion()
    else:
        reply = await client.chat.completions.create(model=model, messages=messages, tools=tools, **several)  # type: ignore[arg-type]
    choice = reply.choices[0]
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls or ()]  # type: ignore[union-attr]
    second = reply.choices[1].message.content if len(reply.choices) > 1 else None
    parsed = Parsed(choice.message.content or "", calls, choice.finish_reason, usage_of(reply.usage), second=second)
    parsed.refusal = choice.message.refusal
    return parsed


def usage_of(u: Any) -> dict[str, int | None]:
    """An OpenAI usage as the neutral keys ({} when absent)."""
    if u is None:
        return {}
    cached = u.prompt_tokens_details.cached_tokens if u.prompt_tokens_details else None
    return {"input": u.prompt_tokens, "output": u.completion_tokens, "cached": cached or 0}


async def via_anthropic(clients: Clients, model: str, prompt: str, stream: bool) -> Parsed:
    tools = [{"name": n, "input_schema": s} for n, s in TOOLS.items()]
    messages = [{"role": "user", "content": prompt}]
    client = clients.anthropic
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
    usage: dict[str, int | None] = {
        "input": total_in,
        "output": u.output_tokens,
        "cached": u.cache_read_input_tokens or 0,
    }
    return Parsed(text, calls, reply.stop_reason, usage)


async def via_gemini(clients: Clients, model: str, prompt: str, stream: bool) -> Parsed:
    from google.genai import types

    tools = [
        types.Tool(
            function_declarations=[
                types.FunctionDeclaration(name=n, parameters_json_schema=s) for n, s in TOOLS.items()
            ]
        )
    ]
    several = 2 if "fuzzchoices-2" in prompt else None
    manual = types.AutomaticFunctionCallingConfig(disable=True)
    config = types.GenerateContentConfig(tools=tools, automatic_function_calling=manual, candidate_count=several)
    client = clients.gemini
    if stream:
        chunks = [
            c
            async for c in await client.aio.models.generate_content_stream(model=model, contents=prompt, config=config)
        ]
    else:
        chunks = [await client.aio.models.generate_content(model=model, contents=prompt, config=config)]
    text, calls, finish, usage_seen, second = "", [], None, None, None
    for chunk in chunks:
        for candidate in (chunk.candidates or ())[1:]:
            parts = (candidate.content.parts if candidate.content else None) or ()
            second = "".join(p.text or "" for p in parts if not p.thought)
        for candidate in (chunk.candidates or ())[:1]:
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
        usage = {
            "input": usage_seen.prompt_token_count or 0,
            "output": output,
            "cached": usage_seen.cached_content_token_count or 0,
        }
    return Parsed(text, calls, finish, usage, second=second)


CALLERS = {"openai": via_openai, "anthropic": via_anthropic, "gemini": via_gemini}


def expected_finish(caller: str, upstream: str, answer: Answer) -> str | None:
    if caller == upstream:
        return None if answer.spelled == "blocked" else answer.spelled  # a blocked prompt: no candidate
    if upstream == "gemini" and answer.spelled == "OTHER":
        return CALLER_FINISH[caller]["stop"]
    return CALLER_FINISH[caller][answer.finish]


def compare(caller: str, upstream: str, answer: Answer, parsed: Parsed) -> list[str]:
    """What the SDK parsed that is not the answer drawn."""
    out = []
    text = answer.refusal if answer.refusal and caller != "openai" else answer.text  # a refusal's text is text
    if parsed.text != text:
        out.append(f"text {parsed.text[:200]!r} != {text[:200]!r}")
    wanted = [(name, args) for _, name, args in answer.calls]
    if parsed.calls != wanted:
        out.append(f"calls {json.dumps(parsed.calls)[:400]} != {json.dumps(wanted)[:400]}")
    finish = expected_finish(caller, upstream, answer)
    if parsed.finish != finish:
        out.append(f"finish {parsed.finish!r} != {finish!r} (upstream {answer.spelled})")
    u = answer.usage
    if parsed.usage != {"input": u["input"], "output": u["output"], "cached": u["cached"]}:
        out.append(f"usage {parsed.usage} != {u}")
    if caller == "openai" and parsed.refusal != answer.refusal:
        out.append(f"refusal {parsed.refusal!r} != {answer.refusal!r}")
    if answer.choices > 1 and answer.spelled != "blocked" and parsed.second != answer.text + " (2)":
        out.append(f"second answer {parsed.second!r} != {answer.text + ' (2)'!r}")
    return out


def plan(seed: int) -> tuple[str, str, bool, int]:
    """Seed ``seed``'s caller, upstream, stream or not, and how many answers it asks."""
    rng = random.Random(seed)
    caller, upstream, stream = rng.choice(DIALECTS), rng.choice(UPSTREAMS), rng.random() < 0.5
    several = not stream and caller != "anthropic" and upstream != "anthropic" and rng.random() < 0.25
    return caller, upstream, stream, 2 if several else 1


async def answer_one(stack: Stack, clients: Clients, seed: int, show: bool) -> tuple[str, list[str]]:
    """Seed ``seed``'s call through its caller's SDK: its pair's name and the invariants it broke."""
    caller, upstream, stream, choices = plan(seed)
    answer = answer_of(seed, UPSTREAM_DIALECT[upstream])
    answer.choices = choices
    pair = f"{caller} <- {upstream}, {'stream' if stream else 'whole'}"
    if show:
        print(f"# seed {seed}: {pair}: {answer}")
    _, offset = stack.log_lines()
    problems: list[str] = []
    plain = " fuzzfinish-plain" if answer.finish in ("length", "filter") else ""
    prompt = f"answer fuzzseed-{seed}{plain}{' fuzzchoices-2' if choices > 1 else ''}"
    try:
        parsed = await CALLERS[caller](clients, f"to-{upstream}", prompt, stream)
    except Exception as error:  # an SDK that raises on what the sidecar sent: the violation reported
        problems.append(f"the SDK raised {type(error).__name__}: {str(error)[:600]}")
    else:
        problems += compare(caller, UPSTREAM_DIALECT[upstream], answer, parsed)
    lines, _ = stack.log_lines(offset)
    return pair, problems + log_problems(lines)


async def run_answers(first: int, seeds: int, show: bool) -> tuple[int, collections.Counter[str]]:
    """Seeds ``first`` on through a sidecar over the answer server: the violations, the outcomes by pair."""
    server = AnswerServer()
    stack: Stack = await start({name: server.app() for name in UPSTREAMS})
    stats: collections.Counter[str] = collections.Counter()
    violations = 0
    clients = Clients(stack.url)
    try:
        for seed in range(first, first + seeds):
            pair, problems = await answer_one(stack, clients, seed, show)
            stats[f"{pair}: {'violated' if problems else 'ok'}"] += 1
            for problem in problems:
                violations += 1
                print(f"VIOLATION answers seed {seed} ({pair}): {problem}")
    finally:
        await clients.close()
        await stack.close()
    return violations, stats
