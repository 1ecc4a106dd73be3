"""The stack of the lying-provider tests: ``start`` runs a ``Liar`` (lying_answers: a real HTTP server on
loopback answering what the test sets) and a real sidecar in front of it. Models ``lie-<dialect>`` call
the liar in that dialect (priced, so that cost is counted), routes ``chain-<dialect>`` fall back from
it to a good fake provider, routes ``cache-<dialect>`` cache every answer and shadow it to the good one;
two budgets count tokens and dollars. ``request`` is what an app of a dialect sends."""

from __future__ import annotations

from typing import Any

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from .lying_answers import Liar
from .three_dialects import ANTHROPIC_TOOL, TOOL

DIALECTS = ("openai", "anthropic", "gemini")
HI = [{"role": "user", "content": "weather in Paris?"}]
GEMINI_TOOLS = [{"functionDeclarations": [{"name": "get_weather", "parameters": TOOL["function"]["parameters"]}]}]  # type: ignore[index]


def policy(liar: str, good: str) -> str:
    """The policy over the liar at ``liar`` and the good provider at ``good`` (a 30 s connect limit: both
    servers run in the test's own process, whose loop a loaded machine can stall past the product's 5 s,
    a 504 where the test expects the answer's own 502, as tests/upstream's ``TIMEOUTS``)."""
    text = (
        "version: 1\n"
        "defaults:\n  resilience: {max_attempts_per_target: 1, timeouts: {connect_s: 30}}\n"
        "  breaker: {window_size: 1000, minimum_calls: 1000}\n"
        "providers:\n"
        f"  l-openai: {{kind: openai, base_url: '{liar}/v1', api_key: {{env: KEY}}}}\n"
        f"  l-anthropic: {{kind: anthropic, base_url: '{liar}', api_key: {{env: KEY}}}}\n"
        f"  l-gemini: {{kind: gemini, base_url: '{liar}', api_key: {{env: KEY}}}}\n"
        + provider_block("good", good, "openai")
        + "models:\n"
        + "".join(
            f"  lie-{d}: {{provider: l-{d}, model: up, price: {{input_per_mtok: 1, output_per_mtok: 10}}}}\n"
            for d in DIALECTS
        )
        + "  good: {provider: good, model: g}\nroutes:\n"
        + "".join(f"  - {{name: chain-{d}, match: {{model: chain-{d}}}, target: [lie-{d}, good]}}\n" for d in DIALECTS)
        + "".join(
            f"  - {{name: cache-{d}, match: {{model: cache-{d}}}, target: [lie-{d}],"
            " cache: {enabled: true, cacheable: always}, shadow: {candidates: [good], sample: 1.0}}\n"
            for d in DIALECTS
        )
        + "budgets:\n  limits:\n"
        "    - {name: usd-day, measure: usd, amount: 1000, window: day, scope: {by: global}}\n"
        "    - {name: tokens-day, measure: tokens, amount: 1000000000, window: day, scope: {by: global}}\n"
    )
    return text


def request(
    caller: str, model: str, stream: bool, asked: str = "weather in Paris?"
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The path, headers and body a ``caller`` app sends for ``model``, asking ``asked``."""
    said = [{"role": "user", "content": asked}]
    if caller == "openai-responses":  # the Responses API, translated for another dialect's target
        tool = {"type": "function", **TOOL["function"]}
        return "/v1/responses", {}, {"model": model, "input": said, "tools": [tool], "stream": stream}
    if caller == "openai":
        body: dict[str, Any] = {"model": model, "messages": said, "tools": [TOOL], "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return "/v1/chat/completions", {}, body
    if caller == "anthropic":
        body = {"model": model, "max_tokens": 50, "messages": said, "tools": [ANTHROPIC_TOOL], "stream": stream}
        return "/v1/messages", {"anthropic-version": "2023-06-01"}, body
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": asked}]}], "tools": GEMINI_TOOLS}
    return f"/v1beta/models/{model}:{method}", {"x-goog-api-key": "app"}, body


CALLER_HEADERS = {
    "openai": {},
    "openai-responses": {},
    "anthropic": {"anthropic-version": "2023-06-01"},
    "gemini": {"x-goog-api-key": "a"},
}


async def start(aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory) -> tuple[RunningSidecar, Liar]:
    """A liar, a good fake provider and the sidecar in front of both."""
    liar = Liar()
    server = await aiohttp_server(liar.app())
    running = await sidecar(policy(str(server.make_url("")).rstrip("/"), await fake("good")), env={"KEY": "sk-x"})
    return running, liar
