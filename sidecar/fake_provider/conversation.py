"""What the fake model says, independent of dialect.

Each dialect module reduces its request to a ``Prompt``; ``answer`` turns that into an ``Answer``:

1. the last turn is a tool result          -> text (``reply`` or "Tool result received: ...")
2. tools offered and (forced by tool_choice, or the last user text holds ``fake:tools2`` / ``fake:tool``)
                                            -> one call to the forced or first tool (two calls for tools2,
                                               unless parallel calls are forbidden)
3. otherwise                               -> text: ``reply``, else (JSON asked) a JSON document of the
                                               asked schema (``{}`` without one), else the last user text echoed
When the request carries a truth (``quality``), 2 and 3 are graded instead: the text (JSON when asked)
or the forced tool's arguments hold a right or wrong answer, or a refusal, as the model's profile says;
a judge prompt (``<candidate n="N">`` blocks) gets ``{"best": N}``.
Text holding a stop sequence ends before the first one (``stop_sequence``: Anthropic's stop reason
``stop_sequence``; OpenAI's ``stop``, Gemini's ``STOP``, as with no sequence).
Text longer than ``max_tokens`` is cut and marked ``truncated`` (finish reason length / max_tokens).
Tokens are estimated as ~4 characters each; log-probabilities (when asked) come per word.
A text answer to a last user text holding ``fake:cite`` cites a source for its last word (``cited``: the
span in characters; each dialect writes it in its own form, unstreamed answers only).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from sidecar.fake_provider import quality
from sidecar.fake_provider.examples import example_arguments, example_value

EMPTY_PROMPT_REPLY = "Hello from the fake provider."
TOOL_MARKER = "fake:tool"
TWO_TOOLS_MARKER = "fake:tools2"
CITE_MARKER = "fake:cite"
CITED_URL = "https://example.com/fake-source"
CITED_TITLE = "Fake source"
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class ToolSpec:
    name: str
    schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolChoice:
    """``mode`` is ``auto``, ``none`` or ``required``; ``name`` set when one tool is forced."""

    mode: str = "auto"
    name: str | None = None


@dataclass(frozen=True)
class Prompt:
    text: str  # the last user text
    input_tokens: int
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    tool_result: str | None = None  # set when the last turn is a tool result
    max_tokens: int | None = None
    model: str = ""
    json_asked: bool = False  # JSON mode or a JSON schema was asked for the text
    json_schema: Mapping[str, Any] | None = None  # the asked schema, as JSON Schema
    logprobs: int | None = None  # log-probabilities asked: how many runners-up per token (None: not asked)
    stop: tuple[str, ...] = ()  # stop sequences: the text ends before the first one it holds
    parallel_calls: bool = True  # False: parallel calls forbidden (``fake:tools2`` then makes one call)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return orjson.dumps(self.arguments).decode()


@dataclass(frozen=True)
class Answer:
    text: str
    calls: tuple[ToolCall, ...]
    truncated: bool
    input_tokens: int
    output_tokens: int
    logprobs: tuple[quality.TokenLogprob, ...] = ()  # per word of ``text``, when asked
    quality: str | None = None  # the graded verdict (``x-fake-quality``), when the request had a truth
    cited: tuple[int, int] | None = None  # the span of ``text`` (characters) citing ``CITED_URL`` (``fake:cite``)
    stop_sequence: str | None = None  # the stop sequence that ended ``text`` (left out of it), if one did


def estimate_tokens(text: str | int) -> int:
    """Tokens for a text (or a character count): ~4 characters per token, at least 1 for non-empty."""
    chars = text if isinstance(text, int) else len(text)
    return math.ceil(chars / CHARS_PER_TOKEN) if chars > 0 else 0


def text_chars(value: Any) -> int:
    """Characters of every string inside a JSON value (keys excluded): the input-token basis."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return sum(text_chars(item) for key, item in value.items() if key not in ("type", "role"))
    if isinstance(value, list | tuple):
        return sum(text_chars(item) for item in value)
    return 0


def answer(prompt: Prompt, reply: str | None, grading: quality.Grading | None = None) -> Answer:
    """The fake model's deterministic answer to ``prompt`` (graded when ``grading`` is given)."""
    tools = _called_tools(prompt)
    verdict: quality.Verdict | None = None
    value_at = -1
    if grading is not None and prompt.tool_result is None:
        candidates = quality.judge_candidates(prompt.text)
        if candidates:
            verdict = quality.judge(grading, candidates)
            text, tools = quality.judge_text(verdict), []
            value_at = text.find(verdict.value) if verdict.value else -1
        else:
            verdict = quality.decide(grading, json_asked=prompt.json_asked or bool(tools))
            if tools and verdict.outcome is not quality.Outcome.REFUSAL:
                arguments = quality.tool_arguments(verdict, grading.truth, tools[0].schema)
                return _calls_answer(prompt, (ToolCall(tools[0].name, arguments),), verdict.header)
            tools = []
            written = quality.render(verdict, grading.truth, json_asked=prompt.json_asked, schema=prompt.json_schema)
            text, value_at = written.text, written.value_at
    elif tools:
        return _calls_answer(prompt, tuple(ToolCall(t.name, example_arguments(t.schema)) for t in tools), None)
    else:
        text = _ungraded_text(prompt, reply)
    text, stop_sequence = _stopped(text, prompt.stop)
    truncated = False
    if prompt.max_tokens is not None and estimate_tokens(text) > prompt.max_tokens:
        text, truncated, stop_sequence = text[: prompt.max_tokens * CHARS_PER_TOKEN], True, None
    probabilities: tuple[quality.TokenLogprob, ...] = ()
    if prompt.logprobs is not None and text:
        confidence = verdict.confidence if verdict is not None else 1.0
        alternatives = _alternatives(grading, verdict)
        probabilities = quality.logprobs(split_text(text), value_at, confidence, alternatives, prompt.logprobs)
    header = verdict.header if verdict is not None else None
    cited = last_word(text) if CITE_MARKER in prompt.text else None
    return Answer(
        text, (), truncated, prompt.input_tokens, estimate_tokens(text), probabilities, header, cited, stop_sequence
    )


def _stopped(text: str, stops: Sequence[str]) -> tuple[str, str | None]:
    """``text`` up to the earliest stop sequence it holds (left out, as the providers leave it out) and
    that sequence; ``text`` whole and None when it holds none."""
    found = [(text.find(stop), stop) for stop in stops if stop and stop in text]
    if not found:
        return text, None
    at, stop = min(found)
    return text[:at], stop


def _ungraded_text(prompt: Prompt, reply: str | None) -> str:
    """``reply``; else, JSON asked, a document of the schema (an object without one); else the tool result
    acknowledged, or the last user text echoed."""
    if reply is not None:
        return reply
    if prompt.json_asked:
        return orjson.dumps(example_value(prompt.json_schema or {"type": "object"})).decode()
    if prompt.tool_result is not None:
        return f"Tool result received: {prompt.tool_result}"
    return prompt.text or EMPTY_PROMPT_REPLY


def last_word(text: str) -> tuple[int, int] | None:
    """The span (in characters) of the last word of ``text``, None when it has none."""
    words = list(re.finditer(r"\S+", text))
    return (words[-1].start(), words[-1].end()) if words else None


def _calls_answer(prompt: Prompt, calls: tuple[ToolCall, ...], header: str | None) -> Answer:
    size = sum(len(call.name) + len(call.arguments_json) for call in calls)
    return Answer("", calls, False, prompt.input_tokens, max(1, estimate_tokens(size)), quality=header)


def _alternatives(grading: quality.Grading | None, verdict: quality.Verdict | None) -> list[str]:
    if grading is None or verdict is None or verdict.outcome is quality.Outcome.REFUSAL:
        return []
    chosen = verdict.value.casefold()
    return [choice for choice in grading.truth.choices if choice.casefold() != chosen]


def _called_tools(prompt: Prompt) -> list[ToolSpec]:
    """The tools the model calls: the forced one, or the first (two for ``fake:tools2``), or none."""
    if not prompt.tools or prompt.tool_result is not None or prompt.tool_choice.mode == "none":
        return []
    by_name = {tool.name: tool for tool in prompt.tools}
    forced = prompt.tool_choice.name
    if TWO_TOOLS_MARKER in prompt.text and prompt.parallel_calls:
        return [prompt.tools[0], prompt.tools[1 % len(prompt.tools)]]
    if forced in by_name:
        return [by_name[forced]]
    if TOOL_MARKER in prompt.text or prompt.tool_choice.mode == "required":
        return [prompt.tools[0]]
    return []


def split_text(text: str) -> list[str]:
    """Stream chunks of ``text``: one word with its trailing spaces each; joined they give ``text``."""
    return re.findall(r"\S+\s*|\s+", text) or [text]


def split_json(text: str, size: int = 16) -> list[str]:
    """Argument deltas: ``text`` in pieces of ``size`` characters."""
    return [text[start : start + size] for start in range(0, len(text), size)] or [text]


def stop_sequences(value: Any) -> tuple[str, ...]:
    """A request's stop sequences (OpenAI ``stop``: one string or a list; Anthropic ``stop_sequences``,
    Gemini ``stopSequences``: a list); the strings of it, or none."""
    if isinstance(value, str):
        return (value,)
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def last_text(parts: Sequence[Any]) -> str:
    """Join the text parts of a content list (OpenAI/Anthropic blocks or Gemini parts)."""
    texts = [part.get("text", "") for part in parts if isinstance(part, Mapping) and isinstance(part.get("text"), str)]
    return "\n".join(texts)
