"""The calls of ``sdk_soak.py``: how a seeded client's ``Plan`` (bench/sdk_soak_plans.py) is sent through
the official SDKs (``send``: openai, anthropic, google-genai, or raw HTTP for the malformed bodies), with
what it saw written down in a ``Seen`` (its text, tool calls, finish reason and usage as its SDK parsed them).

Every call carries a unique ``x-soak-id`` header (the soak's policy matches on it in a route that never
takes a request, so the access line logs it) and the same id in its prompt (so the fake provider's
request log names it). A client that leaves does so on purpose: mid-stream after the first event, or
before the head while the provider stalls (on the hedged route once its hedge was made too: a race left
with both calls in flight); ``Seen.left_at`` is when.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anthropic
import httpx2
import openai
import sdk_soak_usage as usage
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from sdk_soak_plans import (
    LEAVE_MID,
    MALFORMED,
    REFUSED_BY_THE_SIDECAR,
    ROUTES,
    UNKNOWN_FIELD,
    Plan,
    plan_call,
    prompt,
    shared_prompts,
)

__all__ = ["LEAVE_MID", "MALFORMED", "REFUSED_BY_THE_SIDECAR", "ROUTES", "Plan", "plan_call", "shared_prompts"]
HEDGED_CALLS = 2  # a client leaving the hedged route before the head waits for the race's two calls
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@dataclass
class Seen:
    """What the client saw."""

    plan: Plan
    started: float
    started_wall: float = field(default_factory=time.time)
    ended: float = 0.0
    head_s: float | None = None  # until the SDK call returned (a stream: its head)
    status: int | None = None  # 200, or the error's status
    error: str | None = None  # the SDK's exception class when it raised
    error_type: str | None = None  # the dialect's error type or code
    raised: str | None = None  # "status" (an SDK's status error), "stream" (an error event), "other"
    detail: str = ""
    left_at: float | None = None  # when a leaving client had closed its connection (wall clock)
    complete: bool = False  # a stream's end was seen (finish reason / message_stop)
    text: str = ""  # the answer's text (a stream's, joined)
    tool_calls: int = 0
    events: int = 0
    notes: list[str] = field(default_factory=list)
    finish: str | None = None  # the finish (stop) reason, as the SDK parsed it
    usage: tuple[int, int, int] | None = None  # (input, output, cached input) as the sidecar counts them


class Clients:
    """The three SDKs' async clients at one sidecar, without their own retries; one raw aiohttp session
    (the malformed bodies, and the fakes' request logs)."""

    def __init__(self, url: str, fakes: tuple[str, ...], timeout_s: float) -> None:
        self.url = url
        self.fakes = fakes  # the fake providers' URLs
        self.openai = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=timeout_s)
        self.anthropic = anthropic.AsyncAnthropic(base_url=url, api_key="x", max_retries=0, timeout=timeout_s)
        self._httpx = httpx2.AsyncClient(timeout=timeout_s)
        options = types.HttpOptions(base_url=url, httpx_async_client=self._httpx, timeout=int(timeout_s * 1000))
        self.gemini = genai.Client(api_key="x", http_options=options)
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))

    async def close(self) -> None:
        await self.openai.close()
        await self.anthropic.close()
        await self._httpx.aclose()
        await self.session.close()


async def send(clients: Clients, plan: Plan) -> Seen:
    """Send ``plan``; what the client saw. Never raises (but for cancellation of the whole soak)."""
    seen = Seen(plan, time.monotonic())
    try:
        if plan.dialect == "raw":
            await _raw(clients, plan, seen)
        elif plan.leave == "head":
            await _leave_before_head(clients, plan, seen)
        else:
            await SENDERS[plan.dialect](clients, plan, seen)
    except (openai.APIStatusError, anthropic.APIStatusError) as exc:
        _status_error(seen, exc.status_code, exc)
        seen.error_type = _error_type(plan.dialect, exc.body)
    except genai_errors.APIError as exc:
        _status_error(seen, exc.code, exc)
        seen.error_type = exc.status
    except (openai.APIConnectionError, anthropic.APIConnectionError) as exc:
        seen.error, seen.raised, seen.detail = type(exc).__name__, "other", repr(exc.__cause__ or exc)[:300]
    except (openai.APIError, anthropic.APIError) as exc:  # an error event in a stream (no status of its own)
        seen.error, seen.raised, seen.detail = type(exc).__name__, "stream", str(exc)[:300]
        seen.error_type = _error_type(plan.dialect, exc.body)
    except Exception as exc:  # anything else is what the soak looks for: no SDK error, a bug somewhere
        seen.error, seen.raised, seen.detail = type(exc).__name__, "other", repr(exc)[:300]
    seen.ended = time.monotonic()
    return seen


def _status_error(seen: Seen, status: int, exc: Exception) -> None:
    seen.error, seen.detail = type(exc).__name__, str(exc)[:300]
    if seen.status == 200:  # an error event in a stream: google-genai raises it with the event's code
        seen.raised = "stream"
        return
    seen.status, seen.raised = status, "status"
    seen.head_s = time.monotonic() - seen.started


def _error_type(dialect: str, body: object) -> str | None:
    """The dialect's error type: OpenAI's ``code`` (else ``type``), Anthropic's ``error.type``."""
    if not isinstance(body, dict):
        return None
    if dialect == "anthropic":
        inner = body.get("error")
        return inner.get("type") if isinstance(inner, dict) else None
    return body.get("code") or body.get("type")


def _headed(seen: Seen) -> None:
    seen.head_s = time.monotonic() - seen.started
    seen.status = 200


def max_tokens(plan: Plan) -> int:
    """Room for thinking (Anthropic's budget is 1,024 at least); a shared prompt's asks all have it, so that
    those with thinking and those without differ by the thinking asked alone, in the cache key too."""
    return 2048 if plan.think or plan.shared is not None else 40


async def _openai(clients: Clients, plan: Plan, seen: Seen) -> None:
    message: dict[str, Any] = {"role": "user", "content": prompt(plan)}
    if plan.unknown_field:
        message[UNKNOWN_FIELD] = "x"
    request: dict[str, Any] = {
        "model": plan.model,
        "messages": [message],
        "max_tokens": max_tokens(plan),
        "extra_headers": {"x-soak-id": plan.soak_id},
    }
    if plan.tools:
        request["tools"] = [{"type": "function", "function": {"name": "weather", "parameters": WEATHER}}]
    if plan.billing:  # left out of the cache key (docs/caching.md): a hit all the same
        request |= {"user": f"u-{plan.soak_id}", "prompt_cache_key": plan.soak_id}
    if plan.think:
        request["reasoning_effort"] = "low"
    if not plan.stream:
        answer = await clients.openai.chat.completions.create(**request)
        _headed(seen)
        for choice in answer.choices:
            seen.text += choice.message.content or ""
            seen.tool_calls += len(choice.message.tool_calls or ())
            seen.complete, seen.finish = choice.finish_reason is not None, choice.finish_reason
        seen.usage = usage.openai(answer.usage)
        return
    stream = await clients.openai.chat.completions.create(
        stream=True, stream_options={"include_usage": True}, **request
    )
    _headed(seen)
    async for chunk in stream:
        if await _left_mid(plan, stream, seen):
            return
        for choice in chunk.choices:
            seen.text += choice.delta.content or ""
            seen.tool_calls += sum(1 for call in choice.delta.tool_calls or () if call.id)
            seen.complete = seen.complete or choice.finish_reason is not None
            seen.finish = choice.finish_reason or seen.finish
        seen.usage = usage.openai(chunk.usage) or seen.usage


async def _left_mid(plan: Plan, stream: Any, seen: Seen) -> bool:
    """An event came: a client that leaves mid-stream closes the stream now (openai's and anthropic's)."""
    seen.events += 1
    if plan.leave != "mid":
        return False
    await stream.close()
    seen.left_at = time.time()  # the connection is closed now (a starved driver may get here late)
    return True


async def _anthropic(clients: Clients, plan: Plan, seen: Seen) -> None:
    message: dict[str, Any] = {"role": "user", "content": prompt(plan)}
    if plan.unknown_field:
        message[UNKNOWN_FIELD] = "x"
    request: dict[str, Any] = {
        "model": plan.model,
        "max_tokens": max_tokens(plan),
        "messages": [message],
        "extra_headers": {"x-soak-id": plan.soak_id},
    }
    if plan.tools:
        request["tools"] = [{"name": "weather", "description": "the weather", "input_schema": WEATHER}]
    if plan.billing:
        request |= {"metadata": {"user_id": f"u-{plan.soak_id}"}, "service_tier": "auto"}
    if plan.think:
        request["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    if not plan.stream:
        answer = await clients.anthropic.messages.create(**request)
        _headed(seen)
        seen.text = "".join(block.text for block in answer.content if block.type == "text")
        seen.tool_calls = sum(1 for block in answer.content if block.type == "tool_use")
        seen.complete, seen.finish = answer.stop_reason is not None, answer.stop_reason
        seen.usage = usage.anthropic(answer.usage)
        return
    stream = await clients.anthropic.messages.create(stream=True, **request)
    _headed(seen)
    counts = usage.AnthropicStream()
    async for event in stream:
        if await _left_mid(plan, stream, seen):
            return
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            seen.text += event.delta.text
        elif event.type == "content_block_start" and event.content_block.type == "tool_use":
            seen.tool_calls += 1
        elif event.type == "message_stop":
            seen.complete, seen.usage = True, counts.total()
        else:
            seen.finish = counts.read(event) or seen.finish


async def _gemini(clients: Clients, plan: Plan, seen: Seen) -> None:
    tools = None
    if plan.tools:
        declaration = types.FunctionDeclaration(
            name="weather", description="the weather", parameters_json_schema=WEATHER
        )
        tools = [types.Tool(function_declarations=[declaration])]
    thinking = types.ThinkingConfig(include_thoughts=True, thinking_budget=512) if plan.think else None
    config = types.GenerateContentConfig(
        max_output_tokens=max_tokens(plan),
        tools=tools,
        thinking_config=thinking,
        labels={"soak": plan.soak_id.lower()} if plan.billing else None,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        automatic_continuation=False,  # a CONTINUATION finish (f4's) is the answer, not asked again
        http_options=types.HttpOptions(headers={"x-soak-id": plan.soak_id}),
    )
    models = clients.gemini.aio.models
    if not plan.stream:
        answer = await models.generate_content(model=plan.model, contents=prompt(plan), config=config)
        _headed(seen)
        _gemini_parts(answer, seen)
        return
    stream = await models.generate_content_stream(model=plan.model, contents=prompt(plan), config=config)
    if plan.leave == "mid":  # google-genai sends the request at the first read: the head comes with it
        await _leave_gemini_stream(stream, seen)
        return
    async for chunk in stream:
        if not seen.events:
            _headed(seen)
        seen.events += 1
        _gemini_parts(chunk, seen)


def _gemini_parts(answer: Any, seen: Seen) -> None:
    """Add a Gemini answer's (or chunk's) text (not its thoughts) and function calls to ``seen``; its finish
    reason ends it; its usage, when it has some, is the totals so far."""
    for candidate in answer.candidates or ():
        for part in candidate.content.parts or () if candidate.content else ():
            seen.text += "" if part.thought else part.text or ""
            seen.tool_calls += int(part.function_call is not None)
        if candidate.finish_reason is not None:
            seen.complete, seen.finish = True, getattr(candidate.finish_reason, "value", candidate.finish_reason)
    seen.usage = usage.gemini(answer.usage_metadata) or seen.usage


async def _leave_gemini_stream(stream: Any, seen: Seen) -> None:
    """Read the first chunk, then cancel the read of the next one, as an app's timeout or task cancel does.

    google-genai's stream is a chain of async generators: ``aclose()`` on the one it returns (or a ``break``
    out of ``async for``) leaves the HTTP response open until garbage collection, so the sidecar, and the
    provider behind it, never learn that the app left. A cancelled read closes the connection (httpx).
    """
    chunks = stream.__aiter__()
    await chunks.__anext__()
    _headed(seen)
    seen.events += 1
    reading = asyncio.ensure_future(chunks.__anext__())
    await asyncio.sleep(0.05)
    reading.cancel()
    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
        await reading
    seen.left_at = time.time()  # the connection is closed now


SENDERS = {"openai": _openai, "anthropic": _anthropic, "gemini": _gemini}


async def _leave_before_head(clients: Clients, plan: Plan, seen: Seen) -> None:
    """Send through the SDK and cancel the call once a provider has it (every target stalls, so no head
    came), on the hedged route once two calls were made (its hedge's too: the client leaves a race with
    both calls in flight), or after 3 s; the call's own result when it ended first."""
    task = asyncio.ensure_future(SENDERS[plan.dialect](clients, plan, seen))
    until = time.monotonic() + 3
    calls = HEDGED_CALLS if plan.model == "hedged" else 1
    while not task.done() and time.monotonic() < until and await _upstream_has(clients, seen) < calls:
        await asyncio.wait([task], timeout=0.05)
    if task.done():
        task.result()  # answered (or raised) before the client meant to leave: what it saw stands
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    seen.left_at = time.time()  # the cancelled call has closed its connection


async def _upstream_has(clients: Clients, seen: Seen) -> int:
    """How many calls of ``seen`` the fake providers got since it started (its prompt; a shared one is
    another call's too, but not since this one started, when no other left on it meanwhile)."""
    needle = json.dumps(prompt(seen.plan))[1:-1]
    calls = 0
    for fake in clients.fakes:
        async with clients.session.get(f"{fake}/_fake/requests?limit=100") as response:
            records = await response.json()
        calls += sum(1 for r in records if r["time"] >= seen.started_wall and needle in json.dumps(r["json"]))
    return calls


async def _raw(clients: Clients, plan: Plan, seen: Seen) -> None:
    headers = {"content-type": "application/json", "x-soak-id": plan.soak_id}
    async with clients.session.post(clients.url + plan.raw_path, data=plan.raw_body, headers=headers) as response:
        body = await response.read()
        _headed(seen)
        seen.status = response.status
        try:
            parsed = json.loads(body)
        except ValueError:
            seen.notes.append(f"raw {plan.raw_path}: {response.status} body is not JSON: {body[:120]!r}")
            return
        seen.error_type = _raw_error_type(plan.raw_path, parsed)
        if seen.error_type is None:
            seen.notes.append(
                f"raw {plan.raw_path}: {response.status} not an error in the dialect's shape: {body[:200]!r}"
            )


def _raw_error_type(path: str, body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    inner = body["error"]
    if path.startswith("/v1/messages"):
        return inner.get("type") if body.get("type") == "error" else None
    if path.startswith("/v1beta/"):
        return inner.get("status") if isinstance(inner.get("code"), int) else None
    return inner.get("code") or inner.get("type") if "message" in inner else None
