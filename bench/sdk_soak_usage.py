"""The usage invariants of ``sdk_soak.py``: what an app's SDK parsed as its answer's usage, read the sidecar's
way (``openai``, ``anthropic``, ``gemini``: input with cache reads and writes, output with reasoning, cache
reads; docs/translation.md's usage table), and checked (``check_usage``):

- a plain answer (200, whole, one upstream call, not from the cache, the provider's counts) has the usage
  its access line counts, once: the line's ``input_tokens``, ``output_tokens``, ``cached_input_tokens``;
- an answer of ``f4`` (bench/sdk_soak_scripted.py: a Gemini stream carries its usage on some fragments
  only, an Anthropic answer cache writes) has the usage f4's script gives its prompt (thinking tokens in
  the output, cache reads and writes in the input; the line's writes kept an hour too), and the finish
  reason f4's maps to in the app's dialect;
- a cache hit has the usage of a live answer to the same prompt on its route in its dialect, thinking asked or not
  as it was (its text is checked as every answer's; a key that left thinking out would serve the other's);
- an OpenAI app's context overflow, from any provider, is ``context_length_exceeded``; a message's field
  the dialect does not know is dropped and listed when translated (the policy's ``unsupported_params:
  drop``), and an error answer that refuses it names it.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

from sdk_soak_plans import CONTEXT, UNKNOWN_FIELD, prompt
from sdk_soak_scripted import script

if TYPE_CHECKING:
    from sdk_soak_calls import Seen

Usage = tuple[int, int, int, int]  # input (cache reads and writes in it), output (reasoning in it), cache reads, writes
F4_MODELS = {"d-ge": "gemini", "d-an": "anthropic"}  # f4's, by the upstream's dialect
FINISH = {  # f4's finish reason, by the upstream's dialect, as each dialect's app gets it (docs/translation.md)
    "gemini": {
        "openai": {"STOP": "stop", "MAX_TOKENS": "length", "CONTINUATION": "length", "OTHER": "stop"},
        "anthropic": {
            "STOP": "end_turn",
            "MAX_TOKENS": "max_tokens",
            "CONTINUATION": "max_tokens",
            "OTHER": "end_turn",
        },
        "gemini": {"STOP": "STOP", "MAX_TOKENS": "MAX_TOKENS", "CONTINUATION": "CONTINUATION", "OTHER": "OTHER"},
    },
    "anthropic": {
        "openai": {"end_turn": "stop", "max_tokens": "length", "pause_turn": "stop"},
        "anthropic": {"end_turn": "end_turn", "max_tokens": "max_tokens", "pause_turn": "pause_turn"},
        "gemini": {"end_turn": "STOP", "max_tokens": "MAX_TOKENS", "pause_turn": "STOP"},
    },
}
FINISH["anthropic"]["openai"]["model_context_window_exceeded"] = "length"
FINISH["anthropic"]["anthropic"]["model_context_window_exceeded"] = "model_context_window_exceeded"
FINISH["anthropic"]["gemini"]["model_context_window_exceeded"] = "MAX_TOKENS"
TOOL_FINISH = {"openai": "tool_calls", "anthropic": "tool_use", "gemini": "STOP"}
KIND_OF = {"oa": "openai", "an": "anthropic", "ge": "gemini"}  # a provider's kind by its name's end (the policy's)
CONTEXT_TYPE = {"openai": "context_length_exceeded", "anthropic": "invalid_request_error", "gemini": "INVALID_ARGUMENT"}


def openai(usage: Any) -> Usage | None:
    if usage is None:
        return None
    details = usage.prompt_tokens_details
    cached, writes = ((details.cached_tokens or 0), (details.cache_write_tokens or 0)) if details else (0, 0)
    return usage.prompt_tokens, usage.completion_tokens, cached, writes


def anthropic(usage: Any) -> Usage:
    read, writes = usage.cache_read_input_tokens or 0, usage.cache_creation_input_tokens or 0
    return usage.input_tokens + read + writes, usage.output_tokens, read, writes


class AnthropicStream:
    """An Anthropic stream's usage: ``message_start``'s, each count a ``message_delta`` gives replacing it."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def read(self, event: Any) -> str | None:
        """Take an event's counts; a ``message_delta``'s stop reason."""
        given = {"message_start": lambda: event.message.usage, "message_delta": lambda: event.usage}.get(event.type)
        if given is None:
            return None
        fields = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        self.counts |= {name: value for name in fields if (value := getattr(given(), name, None)) is not None}
        return event.delta.stop_reason if event.type == "message_delta" else None

    def total(self) -> Usage:
        read, writes = self.counts.get("cache_read_input_tokens", 0), self.counts.get("cache_creation_input_tokens", 0)
        return self.counts.get("input_tokens", 0) + read + writes, self.counts.get("output_tokens", 0), read, writes


def gemini(usage: Any) -> Usage | None:
    if usage is None:
        return None
    prompt_tokens = (usage.prompt_token_count or 0) + (usage.tool_use_prompt_token_count or 0)
    output = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
    return prompt_tokens, output, usage.cached_content_token_count or 0, 0  # Gemini reports no cache writes


def asked(one: Seen) -> str:
    """What a call asked, as the cache key tells calls apart (the route, the dialect, the prompt, thinking or
    not: the two cached routes' shared prompts are the same texts)."""
    return f"{one.plan.model} {one.plan.dialect} {one.plan.think} {prompt(one.plan)}"


def plain(one: Seen, line: dict[str, Any]) -> bool:
    """A whole answer of one upstream call, not from the cache, counted by its provider."""
    return (
        one.error is None
        and one.left_at is None
        and one.complete
        and line.get("status") == 200
        and line.get("cache") != "hit"
        and not line.get("tokens_estimated")
        and line.get("attempts") == 1
        and not line.get("billed_failures")
        and not line.get("hedge_cut")
    )


def line_usage(line: dict[str, Any], dialect: str) -> Usage:
    """The line's counts (its cache writes 0 for a Gemini app: Gemini's usage has no field for them)."""
    writes = 0 if dialect == "gemini" else line.get("cache_write_tokens", 0)
    return line.get("input_tokens", 0), line.get("output_tokens", 0), line.get("cached_input_tokens", 0), writes


def check_usage(
    seen: list[Seen], lines: dict[str, list[dict[str, Any]]], checked: collections.Counter[str]
) -> list[tuple[Seen, str]]:
    """Each request's usage and error words against its access line, f4's script and the cache's live
    answers; ``checked`` counts the answers each invariant held for."""
    problems: list[tuple[Seen, str]] = []
    live: dict[str, set[Usage]] = collections.defaultdict(set)  # by what was asked (``asked``)
    hits = []
    for one in seen:
        mine = lines.get(one.plan.soak_id, [])
        problems += [(one, problem) for problem in check_error_words(one)]
        if len(mine) != 1 or one.plan.dialect == "raw":
            continue
        line = mine[0]
        if line.get("cache") == "hit" and one.error is None and one.left_at is None and one.usage is not None:
            hits.append(one)
        elif plain(one, line) and one.usage is not None:
            live[asked(one)].add(one.usage)
        problems += [(one, problem) for problem in check_plain(one, line) + check_cut(one, line)]
        checked["f4 streams cut (the counts sent before the cut)"] += bool(cut_at(one, line))
        problems += [(one, problem) for problem in check_dropped(one, line)]
        checked["plain answers (usage = line)"] += plain(one, line)
        checked["f4 plain answers (usage, finish)"] += plain(one, line) and line.get("served_model") in F4_MODELS
        checked["context overflows"] += CONTEXT in (one.plan.fault or "") and one.status == 400
    for one in hits:
        stored = live.get(asked(one))
        checked["hits (usage = a live answer's)"] += bool(stored)
        if stored and one.usage not in stored:
            problems.append((one, f"a cache hit's usage {one.usage}: its prompt's live answers had {sorted(stored)}"))
    return problems


def check_plain(one: Seen, line: dict[str, Any]) -> list[str]:
    """A plain answer's usage is its line's; f4's is its script's, with its finish reason mapped."""
    if not plain(one, line):
        return []
    problems = []
    dialect = one.plan.dialect
    if one.usage != line_usage(line, dialect):
        problems.append(f"usage {one.usage} seen, the access line counts {line_usage(line, dialect)}")
    upstream = F4_MODELS.get(str(line.get("served_model")))
    if upstream is not None:
        answer = script(prompt(one.plan), "weather" if one.plan.tools else None)
        writes = answer.writes if upstream == "anthropic" else 0
        wanted = (
            answer.prompt_tokens,
            answer.output_tokens,
            answer.cached_tokens,
            0 if dialect == "gemini" else writes,
        )
        if one.usage != wanted or line.get("cache_write_1h_tokens", 0) != (answer.writes_1h if writes else 0):
            problems.append(f"f4's answer: usage {one.usage} seen, f4 sent {wanted}; the line: {line_usage(line, '')}")
        sent = answer.finish if upstream == "gemini" else answer.stop_reason
        finish = TOOL_FINISH[dialect] if one.plan.tools else FINISH[upstream][dialect][sent]
        if one.finish != finish:
            problems.append(f"f4's finish {sent}: the app got {one.finish}, not {finish}")
    return problems


def check_dropped(one: Seen, line: dict[str, Any]) -> list[str]:
    """A message's unknown field, translated for another dialect's provider in one call, is dropped and
    listed (``unsupported_params: drop``)."""
    kind = KIND_OF.get(str(line.get("provider"))[-2:])
    translated = kind is not None and kind != one.plan.dialect
    if not (one.plan.unknown_field and translated and line.get("status") == 200 and line.get("attempts") == 1):
        return []
    listed = line.get("dropped_params", [])
    return [] if f"user.{UNKNOWN_FIELD}" in listed else [f"the unknown field not listed as dropped: {listed}"]


def cut_at(one: Seen, line: dict[str, Any]) -> int:
    """The events f4 sent before it cut a stream it answered in the request's one call (0: not such a call)."""
    fault = one.plan.fault or ""
    if not (fault.startswith("f4:cut=") and one.plan.stream and line.get("provider") in ("f4ge", "f4an")):
        return 0
    return int(fault.split("=", 1)[1]) if line.get("status") == 200 and line.get("attempts") == 1 else 0


def check_cut(one: Seen, line: dict[str, Any]) -> list[str]:
    """A stream f4 cut is counted with the provider's counts it sent before the cut (docs/logs.md: its input
    the provider's when it gave some, its output at least theirs): a Gemini fragment's usage so far,
    Anthropic's ``message_start`` (the input counts, event 0)."""
    sent = cut_at(one, line)
    if not sent:
        return []
    answer = script(prompt(one.plan), "weather" if one.plan.tools else None)
    if line["provider"] == "f4an":
        wanted, output = (answer.prompt_tokens, answer.cached_tokens, answer.writes), 1
    else:
        carried = [index for index in answer.carriers if index < sent]
        if not carried:
            return []
        so_far = answer.usage(max(carried))
        output = so_far["candidatesTokenCount"] + so_far["thoughtsTokenCount"]
        wanted = (answer.prompt_tokens, answer.cached_tokens, 0)
    counted = line_usage(line, "")
    if (counted[0], counted[2], counted[3]) != wanted or counted[1] < output:
        return [
            f"f4 cut its stream after {sent} events: the line counts {counted}, f4 had sent {wanted}, output {output}"
        ]
    return []


def check_error_words(one: Seen) -> list[str]:
    """A context overflow's type in the app's dialect; an error that refuses a field names it."""
    problems = []
    fault = one.plan.fault or ""
    if CONTEXT in fault and one.status == 400 and one.error_type != CONTEXT_TYPE[one.plan.dialect]:
        problems.append(f"a context overflow reached the {one.plan.dialect} app as {one.error_type}")
    if one.plan.unknown_field and not fault and one.status == 400 and UNKNOWN_FIELD not in one.detail:
        problems.append("a 400 to a message with an unknown field that does not name it")
    return problems
