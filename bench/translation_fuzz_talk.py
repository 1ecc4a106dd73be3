"""The neutral conversations bench/translation_fuzz.py writes in each caller's dialect
(bench/translation_fuzz_requests.py): ``conversation(rng)`` draws system prompts and turns of text, media,
tool calls and their results, thinking with signatures; ``text`` an edge string (empty, RTL, NUL, emoji as
escaped surrogate pairs, long), ``schema`` a nested JSON schema, ``value`` a JSON value of every type (big
integers, exponent floats). Every conversation is valid: each call answered in the next user turn, a
user turn first and last."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from typing import Any

PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")).decode()
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF").decode()
WAV = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt ").decode()
EDGE_TEXTS = (
    "hello",
    "\u202eevil\u202c right-to-left",
    "\u0627\u0644\u0633\u0644\u0627\u0645 \u05e9\u05dc\u05d5\u05dd",
    "nul\x00inside",
    "pair \U0001f9ea of surrogates when escaped",
    "🦀🧪 emoji \U0001f600",
    "line\r\nbreaks\n\ttab",
    '{"looks": "like json"}',
    "</s><|im_end|> [DONE] data: event: error",
    "x" * 3000,
    "\u00e9" * 700,
    " leading and trailing ",
    "zero\u200bwidth",
)
NUMBERS = (0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**64 + 1, 10**30, 1.5e-7, 6.02e23, -0.0, 0.5)
TYPES = ("string", "integer", "number", "boolean")


@dataclass
class Call:
    """A tool call: its id, the tool's name, its arguments."""

    id: str
    name: str
    args: dict[str, Any]


@dataclass
class Turn:
    """One turn: ``user`` or ``assistant``; its parts as (kind, value) pairs."""

    role: str
    parts: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class Conversation:
    system: list[str]
    turns: list[Turn]
    tools: list[dict[str, Any]]  # {name, description, parameters}


def text(rng: random.Random, empty: bool = True) -> str:
    """An edge string (``""`` too when ``empty``)."""
    if empty and rng.random() < 0.08:
        return ""
    return rng.choice(EDGE_TEXTS) + f" #{rng.randrange(1000)}"


def schema(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    """A JSON schema of an object, nested up to two levels, with enums, arrays and descriptions."""
    properties: dict[str, Any] = {}
    for i in range(rng.randint(0, 4)):
        kind = rng.choice(TYPES + (("object", "array") if depth < 2 else ()))
        if kind == "object":
            properties[f"o{i}"] = schema(rng, depth + 1)
        elif kind == "array":
            properties[f"a{i}"] = {"type": "array", "items": {"type": rng.choice(TYPES)}}
        else:
            properties[f"p{i}"] = {"type": kind, "description": text(rng, empty=False)[:40]}
            if kind == "string" and rng.random() < 0.3:
                properties[f"p{i}"]["enum"] = ["a", "b\u00e9", "c d"]
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if properties and rng.random() < 0.6:
        out["required"] = sorted(rng.sample(sorted(properties), rng.randint(1, len(properties))))
    return out


def value(rng: random.Random, kind: Any, depth: int = 0) -> Any:
    if kind == "integer":
        return rng.choice([n for n in NUMBERS if isinstance(n, int)])
    if kind == "number":
        return rng.choice(NUMBERS)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array" or depth > 2:
        return [value(rng, rng.choice(TYPES), depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "object":
        return {
            f"k{i}": value(rng, rng.choice((*TYPES, "object", "array")), depth + 1) for i in range(rng.randint(0, 3))
        }
    return text(rng)


def arguments(rng: random.Random, tool: dict[str, Any]) -> dict[str, Any]:
    """Arguments for ``tool`` (its schema's properties, nested values of every JSON type)."""
    out = {}
    for name, prop in tool["parameters"]["properties"].items():
        out[name] = value(rng, prop.get("type"))
    return out


def tool_set(rng: random.Random) -> list[dict[str, Any]]:
    names = ["get_weather", "lookup-order", "calc_2", "a" * 64, "Search_Docs"]
    return [
        {"name": name, "description": text(rng, empty=False)[:200], "parameters": schema(rng)}
        for name in rng.sample(names, rng.randint(1, 3))
    ]


def user_parts(rng: random.Random) -> list[tuple[str, Any]]:
    parts: list[tuple[str, Any]] = [("text", text(rng))]
    for _ in range(rng.choice((0, 0, 1, 2))):
        parts.append(
            rng.choice(
                (
                    ("image_b64", PNG),
                    ("image_url", "https://example.com/cat.png"),
                    ("pdf", PDF),
                    ("audio", WAV),
                    ("text", text(rng, empty=False)),
                )
            )
        )
    rng.shuffle(parts)
    return parts


def assistant_turn(rng: random.Random, tools: list[dict[str, Any]], index: int) -> Turn:
    turn = Turn("assistant")
    if rng.random() < 0.25:
        turn.parts.append(("thinking", (text(rng, empty=False), f"sig{rng.randrange(10**6)}==")))
    if rng.random() < 0.7:
        turn.parts.append(("text", text(rng, empty=False)))
    if tools and rng.random() < 0.5:
        for n in range(rng.randint(1, 2)):
            tool = rng.choice(tools)
            turn.parts.append(("call", Call(f"call_{index}_{n}", tool["name"], arguments(rng, tool))))
    if not turn.parts:
        turn.parts.append(("text", text(rng, empty=False)))
    return turn


def results(rng: random.Random, calls: list[Call]) -> Turn:
    turn = Turn("user")
    for call in calls:
        content = rng.choice((text(rng, empty=False), {"temp": rng.choice(NUMBERS), "ok": True}))
        turn.parts.append(("result", (call, content, rng.random() < 0.1)))
    if rng.random() < 0.3:
        turn.parts.append(("text", text(rng, empty=False)))
    return turn


def conversation(rng: random.Random) -> Conversation:
    """A valid conversation: alternating turns, each call answered in the next user turn, a user turn last."""
    tools = tool_set(rng) if rng.random() < 0.7 else []
    turns = [Turn("user", user_parts(rng))]
    for index in range(rng.choice((0, 0, 1, 2, 3))):
        turns.append(assistant_turn(rng, tools, index))
        calls = [value for kind, value in turns[-1].parts if kind == "call"]
        turns.append(results(rng, calls) if calls else Turn("user", user_parts(rng)))
    system = [text(rng, empty=False) for _ in range(rng.choice((0, 0, 1, 2)))]
    return Conversation(system, turns, tools)
