"""The judge: the prompt it gets, the request that carries it, and the strict reading of its verdict.

The judge model gets one user message: the template (``DEFAULT_JUDGE_PROMPT`` or the policy's ``prompt``)
with ``{question}`` (the caller's conversation, rendered by ``render_question``), ``{candidates}`` (each
distinct answer as ``<candidate n="N">...</candidate>``) and ``{count}`` replaced. Only these three exact
placeholders are replaced, so a template may contain other braces (the JSON it asks for).

``judge_request_body`` builds that request as an OpenAI chat body; send it through ``translate`` to the
judge target's dialect like any caller body. ``parse_verdict`` accepts exactly one JSON object with an
integer ``best`` between 1 and the number of candidates (a surrounding ```json fence is allowed), and
returns None for anything else: the caller of the judge then falls back to majority.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ..dialects import Dialect
from ..dialects.anthropic import request as anthropic
from ..dialects.gemini import request as gemini
from ..dialects.openai import request as openai
from ..translate.common import ChatRequest
from ..translate.options import Drops, TranslateOptions, TranslationError
from .jsondoc import parse_json

DEFAULT_JUDGE_PROMPT = """\
You are judging candidate answers to the same request. Read the request and the {count} numbered \
candidates, decide which candidate answers the request best (correct first, then complete, then \
following the request's instructions about the format), and reply with only this JSON object:
{"best": N}
where N is the number of the best candidate. Write nothing else.

<request>
{question}
</request>

{candidates}"""
PLACEHOLDERS = ("{question}", "{candidates}", "{count}")
_PARSERS = {
    Dialect.OPENAI: openai.parse_request,
    Dialect.ANTHROPIC: anthropic.parse_request,
    Dialect.GEMINI: gemini.parse_request,
}


def check_template(template: str) -> None:
    """``ValueError`` unless the template has ``{question}`` and ``{candidates}``."""
    missing = [name for name in PLACEHOLDERS[:2] if name not in template]
    if missing:
        raise ValueError(f"the judge prompt must contain {' and '.join(missing)}")


def render_candidates(texts: Sequence[str]) -> str:
    """The candidates block: ``<candidate n="1">...</candidate>``, one per text, closing tags defused."""
    return "\n\n".join(
        f'<candidate n="{number}">\n{defuse(text, "candidate")}\n</candidate>'
        for number, text in enumerate(texts, start=1)
    )


def judge_prompt(template: str, question: str, candidates: Sequence[str]) -> str:
    """The judge's message: the template with its placeholders filled."""
    values = {
        "count": str(len(candidates)),
        "question": defuse(question, "request"),
        "candidates": render_candidates(candidates),
    }
    return fill(template, values)


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``{name}`` of ``values`` replaced in one pass (a value's own braces stay)."""
    pattern = re.compile(r"\{(" + "|".join(re.escape(name) for name in values) + r")\}")
    return pattern.sub(lambda match: values[match.group(1)], template)


def defuse(text: str, tag: str) -> str:
    """Keep an answer or question from closing the tag it is quoted in: ``</tag``, in any case and with
    spaces around the slash (``</Candidate >``, ``< /CANDIDATE>``: a model reads them as closers too),
    becomes ``<\\/tag`` as written."""
    return re.sub(r"<\s*/\s*(" + re.escape(tag) + ")", r"<\\/\1", text, flags=re.IGNORECASE)


def judge_request_body(prompt: str, max_tokens: int) -> dict[str, Any]:
    """The judge call as an OpenAI chat body (temperature 0); translate it to the judge's dialect."""
    return {
        "model": "judge",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }


def parse_verdict(text: str, count: int) -> int | None:
    """The candidate number the judge chose, or None when the reply is not exactly a valid verdict."""
    value = parse_json(text)
    if not isinstance(value, dict):
        return None
    best = value.get("best")
    if isinstance(best, bool) or not isinstance(best, int) or not 1 <= best <= count:
        return None
    return best


def render_question(request: ChatRequest) -> str:
    """The caller's conversation as plain text for the judge: system prompts, turns, the format asked."""
    blocks = [f"[system]\n{text}" for text in request.get("system", ())]
    for message in request.get("messages", ()):
        pieces: list[str] = []
        for part in message["parts"]:
            if part["type"] == "text":
                pieces.append(part["text"])
            elif part["type"] == "media":
                pieces.append(f"[{part['media_type'] or 'media'} attachment]")
            elif part["type"] == "tool_call":
                pieces.append(f"[call {part['name']}({orjson.dumps(part['arguments']).decode()})]")
            elif part["type"] == "reasoning":
                continue  # the judge weighs answers, not how a model reached them
            else:
                output = part["output"] if isinstance(part["output"], str) else orjson.dumps(part["output"]).decode()
                pieces.append(f"[result of {part['name']}: {output}]")
        blocks.append(f"[{message['role']}]\n" + "\n".join(pieces))
    fmt = request.get("response_format")
    if fmt is not None:
        schema = orjson.dumps(fmt["schema"]).decode() if fmt["schema"] else "any JSON object"
        blocks.append(f"[required answer format: JSON, {schema}]")
    return "\n\n".join(blocks)


def question_from_body(body: dict[str, Any], dialect: Dialect) -> str:
    """``render_question`` of a caller's chat body in its dialect; ``TranslationError`` when unreadable."""
    try:
        request = _PARSERS[dialect](body, Drops(TranslateOptions(unsupported="drop")))
    except TranslationError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise TranslationError(f"malformed {dialect.value} request body: {exc!r}") from exc
    return render_question(request)
