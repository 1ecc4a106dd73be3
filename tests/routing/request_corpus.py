"""A corpus of requests in every dialect and what routing made of each, for a differential check.

``observe()`` reads each request of ``CASES`` as the server does (``describe_request``) and writes what
routing decides of it: the features (``RequestFeatures``), and per router (policies/routing.yaml's, and
bench/data/routing_rules.yaml's with 14 more classes gated by regexes on both windows) the task,
complexity, tier, expected output and the decision's headers; with policies/routing.yaml's routes, the
route and its chain's targets. ``data/requests_decided.json`` holds what an earlier package answered:
regenerate it only from a package whose decisions are known good, e.g. the base of a change to
routing's features or classification (run from that checkout's root, with this module copied into
its tests/routing: the current directory comes first on ``sys.path``)::

    cd /tmp/base-checkout && PYTHONPATH=. python -m tests.routing.request_corpus \
        > tests/routing/data/requests_decided.json
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import orjson

from sidecar.policy import load_policy
from sidecar.request_facts import describe_request
from sidecar.routing.matrix import routing_from_document

from .pdfs import pdf_base64
from .rules import ROOT, bench_rules

RECORDED = Path(__file__).parent / "data" / "requests_decided.json"
PROSE = "The committee reviewed the quarterly figures and noted that costs rose while revenue held steady. "
CODE = "```python\ndef total(items):\n    return sum(item.price for item in items)\n```\n"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(64))).decode()
CALL = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
TEXT_FILE = base64.b64encode(("Invoice 42: three widgets at 7.50 each.\n" * 40).encode()).decode()


def _chat(user: Any, system: str | None = None, **body: Any) -> tuple[str, dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": user}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    return "/v1/chat/completions", {"model": "auto", "messages": messages, **body}


def _anthropic(content: Any, **body: Any) -> tuple[str, dict[str, Any]]:
    messages = [{"role": "user", "content": content}]
    return "/v1/messages", {"model": "auto", "max_tokens": 512, "messages": messages, **body}


def _gemini(parts: list[dict[str, Any]], **body: Any) -> tuple[str, dict[str, Any]]:
    return "/v1beta/models/auto:generateContent", {"contents": [{"role": "user", "parts": parts}], **body}


CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "chat-bench": _chat("Say hello to the benchmark, in one short sentence please.", "You are terse."),
    "chat-empty-user": _chat("", "You are terse."),
    "chat-questions": _chat("Why is the sky blue? And why are sunsets red?"),
    "chat-code": _chat(CODE + "Refactor this function to skip items without a price."),
    "chat-arithmetic": _chat("What is 17 * 24? Show the steps."),
    "chat-proof": _chat("Prove that the square root of 2 is irrational, rigorous please."),
    "chat-word-problem": _chat("How many apples are left if I had 12 and ate 5 of them"),
    "chat-factorial": _chat("what is 10! divided by 8!"),
    "chat-extract-schema": _chat(
        "Extract the sender's name.",
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    ),
    "chat-classify": _chat("Classify the sentiment of: I loved it, positive or negative?"),
    "chat-summary-long": _chat(PROSE * 200 + "\nSummarize the action items.", "You are a careful analyst. " * 40),
    "chat-long-questions": _chat(("Explain the tradeoffs? " + PROSE) * 60, max_tokens=300, stream=True),
    "chat-translate-cjk": _chat("请把这句话翻译成英文\uff1a今天天气很好。 translate it", "你是翻译。"),
    "chat-cyrillic-emoji": _chat("Привет, мир! 🙂 Как дела? 3 \u00d7 4"),
    "chat-tabs-crlf": _chat("col1\tcol2\r\nvalue\t  42\r\n    indented line\n"),
    "chat-system-tag": _chat("Please help with this.", "Ticket #c3-12 for the contracts team."),
    "chat-user-tag": _chat("About #c5-7: book the cheapest flight"),
    "chat-developer-parts": (
        "/v1/chat/completions",
        {
            "model": "auto",
            "messages": [
                {"role": "developer", "content": "Answer in French."},
                {"role": "user", "content": [{"type": "text", "text": "How do you say good morning?"}]},
            ],
            "max_completion_tokens": 64,
        },
    ),
    "chat-image": _chat(
        [
            {"type": "text", "text": "Describe this picture."},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        ]
    ),
    "chat-tools-forced": _chat(
        "Look up the weather in Paris.",
        tools=[{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
        tool_choice={"type": "function", "function": {"name": "weather"}},
    ),
    "chat-tool-turns": (
        "/v1/chat/completions",
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "user", "content": "What is the weather?"},
                {"role": "assistant", "content": None, "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "c1", "content": "Sunny, 21 degrees."},
                {"role": "user", "content": "Should I take an umbrella? Why?"},
            ],
        },
    ),
    "chat-max-tokens-bool": _chat("hi", max_tokens=True),
    "responses-string": ("/v1/responses", {"model": "auto", "input": "Write a haiku about routers."}),
    "responses-items": (
        "/v1/responses",
        {
            "model": "auto",
            "instructions": "You are terse. #c9-3",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "Compare bonds versus stocks."}]}],
            "max_output_tokens": 200,
        },
    ),
    "anthropic-system-blocks": _anthropic(
        "Explain the difference between TCP and UDP.",
        system=[{"type": "text", "text": "You are a network engineer."}],
    ),
    "anthropic-image": _anthropic(
        [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "text", "text": "What is in this image?"},
        ]
    ),
    "anthropic-text-document": _anthropic(
        [
            {"type": "document", "source": {"type": "base64", "media_type": "text/plain", "data": TEXT_FILE}},
            {"type": "text", "text": "Extract the invoice total."},
        ]
    ),
    "anthropic-pdf": _anthropic(
        [
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf_base64(30)}},
            {"type": "text", "text": "Summarise this report."},
        ]
    ),
    "anthropic-tools-thinking": _anthropic(
        "Find the cheapest flight and justify the choice.",
        tools=[{"name": "search", "description": "flights", "input_schema": {"type": "object"}}],
        thinking={"type": "enabled", "budget_tokens": 2048},
        max_tokens=4096,
    ),
    "gemini-plain": _gemini([{"text": "Translate into German: the train is late."}]),
    "gemini-system-image": _gemini(
        [{"text": "Which product is shown?"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}],
        systemInstruction={"parts": [{"text": "You answer about products."}]},
        generationConfig={"maxOutputTokens": 128, "responseMimeType": "application/json"},
    ),
}


def _decision(decision: Any) -> dict[str, Any]:
    return {
        "task": [decision.task.label, decision.task.source],
        "complexity": [decision.complexity.label, decision.complexity.source],
        "tier": decision.tier,
        "escalated_from": decision.escalated_from,
        "output_tokens": decision.output_tokens,
        "headers": dict(decision.headers),
    }


def observe() -> dict[str, Any]:
    """What routing makes of each case (see the module docstring), by case name."""
    policy = load_policy(ROOT / "policies" / "routing.yaml")
    bench = routing_from_document({"routing": bench_rules(extra_classes=14)}, base_dir=ROOT)
    trusted = {"x-sidecar-task": "extraction"}
    observed: dict[str, Any] = {}
    for name, (path, body) in CASES.items():
        for headers in ({}, trusted):
            request = describe_request(path, headers, {}, orjson.loads(orjson.dumps(body)), app="corpus")
            features = request.features
            route = policy.route(request)
            chain = getattr(route.plan, "chain", None) if route is not None else None
            assert policy.router is not None
            observed[name + (" trusted" if headers else "")] = {
                "features": features.as_dict(),
                "example": _decision(policy.router.decide(features, headers)),
                "bench": _decision(bench.decide(features, headers)),
                "route": None if route is None else route.name,
                "targets": None if chain is None else [target.name for target in chain(request)],
            }
    return observed


if __name__ == "__main__":
    sys.stdout.write(orjson.dumps(observe(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")
