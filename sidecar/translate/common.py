"""The common form every dialect is read into and written from, and the helpers all of them share.

Requests and responses travel as ``TypedDict``s (plain dicts at run time: building one costs what a dict
costs, no validation); ``Usage`` is a frozen dataclass, ``RequestParams`` a named tuple (built for every
traced request).

Request side::

    ChatRequest  system: list[str]        (every system/developer prompt, in order)
                 messages: list[Message]  Message = {role: "user"|"assistant", parts: list[Part]}
                 tools, tool_choice, parallel_tool_calls, response_format
                 max_tokens, temperature, top_p, top_k, stop, n, seed, presence_penalty,
                 frequency_penalty, user, stream, thinking (``thinking.Thinking``),
                 param_names (the caller's names for these, read by ``params.caller_name``)
    Part         TextPart | MediaPart | ToolCallPart | ToolResultPart | ReasoningPart
                 tool calls live in assistant messages, tool results in user messages (as in Anthropic
                 and Gemini); ToolCallPart.arguments is always a parsed JSON object. ReasoningPart is
                 answer-side only (requests never carry one): the model's shown reasoning and the
                 provider's opaque signature, which only its ``origin`` dialect can read.

Response side::

    ChatResponse id, choices: list[Choice], usage     Choice = {parts, finish_reason, stop_sequence}

Stream side: one upstream event -> a few deltas (``deltas``: ``Start``, ``Text``, ``ToolStart``,
``ToolArgs``, ``Reasoning``, ``ReasoningSignature``, ``Finish``, ``UsageSeen``, ``Failure``, ``End``)
-> caller events, see ``stream``.

Policy for parameters with no equivalent (``Drops``): *unsupported* ones raise ``UnsupportedParameter``
under ``unsupported="error"`` and are dropped and listed under ``"drop"``; *ignored* ones (which do not
change what the model generates: ``store``, ``metadata``, ``cache_control``...) are always dropped and
listed, never refused.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, NotRequired, TypedDict

import orjson

from .thinking import Thinking

# ---------------------------------------------------------------------------------------------------------
# Errors and options


class TranslationError(ValueError):
    """The body cannot be translated (malformed, or an operation with no counterpart in the target)."""


class UnsupportedParameter(TranslationError):
    """A parameter has no equivalent in the target dialect and the policy says ``error``."""

    def __init__(self, name: str, detail: str = "") -> None:
        self.name, self.detail = name, detail
        super().__init__(f"parameter {name!r} has no equivalent in the target API" + (f": {detail}" if detail else ""))


@dataclass(frozen=True, slots=True)
class TranslateOptions:
    """Per-route translation settings, built once at policy load."""

    default_max_tokens: int = 4096
    """Anthropic requires ``max_tokens``; used when the caller did not set one."""
    unsupported: Literal["error", "drop"] = "error"
    """What to do with a parameter that has no equivalent in the target."""
    openai_max_tokens_field: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    """Which field carries the output limit to an OpenAI-dialect upstream (older compatible servers only
    know ``max_tokens``; OpenAI's reasoning models only accept ``max_completion_tokens``)."""


class Drops:
    """Collects the parameters dropped while translating one request; raises on unsupported ones."""

    __slots__ = ("_error", "names")

    def __init__(self, options: TranslateOptions) -> None:
        self._error = options.unsupported == "error"
        self.names: list[str] = []

    def unsupported(self, name: str, detail: str = "") -> None:
        """``name`` changes the output and cannot be carried over: refuse or drop per policy."""
        if self._error:
            raise UnsupportedParameter(name, detail)
        if name not in self.names:
            self.names.append(name)

    def ignored(self, name: str) -> None:
        """``name`` does not change the output and cannot be carried over: drop it, listed."""
        if name not in self.names:
            self.names.append(name)


# ---------------------------------------------------------------------------------------------------------
# Usage and request parameters (public)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts in one meaning whatever the dialect.

    ``input_tokens`` counts every prompt token, cached and cache-written ones included (OpenAI and Gemini
    already count so; Anthropic's ``input_tokens`` excludes both cache fields and is summed here).
    ``output_tokens`` counts every generated token, reasoning included. ``cached_input_tokens`` (read from a
    cache), ``cache_write_tokens`` (written to one, Anthropic) and ``reasoning_tokens`` are subsets.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def merge(self, later: Usage) -> Usage:
        """Combine two usages seen on one stream: stream counts are cumulative, so field-wise maximum."""
        return Usage(
            max(self.input_tokens, later.input_tokens),
            max(self.output_tokens, later.output_tokens),
            max(self.cached_input_tokens, later.cached_input_tokens),
            max(self.cache_write_tokens, later.cache_write_tokens),
            max(self.reasoning_tokens, later.reasoning_tokens),
        )


class RequestParams(NamedTuple):
    """The generation parameters of a request, for GenAI span attributes (``gen_ai.request.*``).

    A named tuple, not a frozen dataclass: built for every traced request, it costs a fifth as much.
    Each field holds exactly its annotated type or None (``extract_request_params`` converts: counts
    stay int, temperature, top_p and penalties become float, a bool is never a number), so two equal
    values encode alike: the span encoder caches the attributes by value.
    """

    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: tuple[str, ...] = ()
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    choice_count: int | None = None
    stream: bool | None = None


class FinishReason(enum.StrEnum):
    STOP = "stop"
    STOP_SEQUENCE = "stop_sequence"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    PAUSE = "pause"
    OTHER = "other"


# ---------------------------------------------------------------------------------------------------------
# Request and response form


class TextPart(TypedDict):
    type: Literal["text"]
    text: str


class MediaPart(TypedDict):
    """An image or document: base64 ``data`` or a ``url``, exactly one of them set."""

    type: Literal["media"]
    media_type: str | None
    data: str | None
    url: str | None


class ToolCallPart(TypedDict):
    type: Literal["tool_call"]
    id: str
    name: str
    arguments: dict[str, Any]


class ToolResultPart(TypedDict):
    """``output`` is text, or an object when the source had one (Gemini ``functionResponse.response``)."""

    type: Literal["tool_result"]
    call_id: str
    name: str
    output: str | dict[str, Any]
    is_error: bool


class ReasoningPart(TypedDict):
    """Reasoning shown with an answer, in the order the provider gave it.

    - Anthropic ``thinking`` block: ``text`` = ``thinking``, ``signature`` = ``signature``;
      ``redacted_thinking``: ``text`` empty, ``signature`` = ``data``, ``redacted`` True.
    - Gemini ``{text, thought: true}`` part: ``text``, and its ``thoughtSignature`` if it has one; a
      ``thoughtSignature`` on a following non-thought part (a function call, text) is a part of its own
      with empty ``text``, placed right before the part it signs.
    - OpenAI-compatible ``reasoning_content`` (DeepSeek, vLLM...): ``text``, no signature.

    A signature is opaque and only the provider that made it can check it: builders write it only for
    their own ``origin`` dialect, and leave it out elsewhere.
    """

    type: Literal["reasoning"]
    text: str
    signature: str | None
    origin: str  # the name of the dialect that made the signature
    redacted: bool


Part = TextPart | MediaPart | ToolCallPart | ToolResultPart | ReasoningPart


class Message(TypedDict):
    role: Literal["user", "assistant"]
    parts: list[Part]


class ToolDef(TypedDict):
    name: str
    description: str | None
    parameters: dict[str, Any]  # JSON Schema


class ToolChoice(TypedDict):
    """``tool`` forces one of ``names`` (one name: that tool; several: any of them)."""

    mode: Literal["auto", "none", "required", "tool"]
    names: list[str]


class ResponseFormat(TypedDict):
    kind: Literal["json_object", "json_schema"]
    schema: dict[str, Any] | None
    name: str
    description: NotRequired[str]
    strict: NotRequired[bool]


class ChatRequest(TypedDict, total=False):
    system: list[str]
    messages: list[Message]
    tools: list[ToolDef]
    tool_choice: ToolChoice
    parallel_tool_calls: bool
    response_format: ResponseFormat
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    stop: list[str]
    n: int
    seed: int
    presence_penalty: float
    frequency_penalty: float
    user: str
    stream: bool
    thinking: Thinking
    param_names: dict[str, str]
    """The caller's own names of the fields above it sent under another name (``stop`` was
    ``stop_sequences``, ``n`` was ``candidateCount``...): a refusal or a drop names what the app sent
    (``params.caller_name``)."""


class Choice(TypedDict):
    parts: list[Part]
    finish_reason: FinishReason | None
    stop_sequence: str | None


class ChatResponse(TypedDict):
    id: str | None
    choices: list[Choice]
    usage: Usage | None


# ---------------------------------------------------------------------------------------------------------
# Helpers

RESPONSE_TOOL = "sidecar_json_response"
"""Name of the tool that carries structured output to Anthropic; its input is the answer."""
RESPONSE_TOOL_VALUE = RESPONSE_TOOL + "_value"
"""The same, for a schema whose root is not an object: the answer is the input's ``value``."""


def turns_of(req: ChatRequest) -> tuple[list[str], list[Message]]:
    """The request's system prompts and turns for a target that needs a turn (Anthropic, Gemini): a
    request of system prompts only (OpenAI answers one) has them as its one user turn instead."""
    system, messages = req.get("system") or [], req.get("messages") or []
    if system and not any(p["type"] != "text" or p["text"] for m in messages for p in m["parts"]):
        return [], [{"role": "user", "parts": [{"type": "text", "text": "\n\n".join(system)}]}]
    return system, list(messages)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def parse_arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as an object: OpenAI sends a JSON string, the others an object.

    Arguments that are not a JSON object (a model may emit broken JSON) travel as ``{"_raw": text}``.
    """
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {"_raw": raw}
        if isinstance(value, dict):
            return value
        return {"_raw": raw}
    return {"_raw": dumps(raw)}


def result_text(output: str | dict[str, Any]) -> str:
    """A tool result as text: a lone ``{"result": "..."}`` object (Gemini's convention) unwraps."""
    if isinstance(output, str):
        return output
    if len(output) == 1:
        inner = output.get("result", output.get("output"))
        if isinstance(inner, str):
            return inner
    return dumps(output)


# Media types spelt otherwise than the registered name, which Anthropic and Gemini alone accept.
_MEDIA_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}


def split_data_uri(url: str) -> tuple[str | None, str] | None:
    """``data:image/png;base64,AAAA`` -> ``("image/png", "AAAA")``; None when not a base64 data URI. The
    media type is lower-cased and a common alias (``image/jpg``, which OpenAI takes) becomes its
    registered name."""
    if not url.startswith("data:"):
        return None
    comma = url.find(",")
    if comma < 0:
        return None
    head = url[5:comma]
    if not head.endswith(";base64"):
        return None
    media = head[:-7].lower() or None
    return _MEDIA_ALIASES.get(media, media) if media else None, url[comma + 1 :]


_EXT_TYPES = (
    (".png", "image/png"),
    (".jpg", "image/jpeg"),
    (".jpeg", "image/jpeg"),
    (".gif", "image/gif"),
    (".webp", "image/webp"),
    (".pdf", "application/pdf"),
)


def guess_media_type(url: str, default: str = "image/jpeg") -> str:
    """A media type from a URL's extension (query string ignored)."""
    path = url.split("?", 1)[0].lower()
    for ext, media in _EXT_TYPES:
        if path.endswith(ext):
            return media
    return default


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def safe_id(value: str) -> str:
    """A tool-call id restricted to ``[A-Za-z0-9_-]`` (Anthropic's pattern); other characters become ``_``."""
    if value.replace("_", "").replace("-", "").isalnum() and value.isascii():
        return value
    return "".join(c if (c.isascii() and c.isalnum()) or c in "_-" else "_" for c in value) or "call"


def text_of(parts: list[Part]) -> str:
    return "".join(p["text"] for p in parts if p["type"] == "text")


def reasoning_of(parts: list[Part]) -> str:
    """The reasoning text of an answer's parts, joined (empty when there is none)."""
    return "".join(p["text"] for p in parts if p["type"] == "reasoning")


MAX_REPORTED_TOKENS = 1_000_000_000
"""The largest token count read from a provider's usage: no call reads or writes a billion tokens, so a
larger count (or a negative one) is a provider lying, and is read as not reported (0) rather than let it
credit a budget, overflow a counter or a 64-bit JSON integer when summed."""


def as_count(value: Any) -> int:
    """A token count (or index) a provider reported: an integer from 0 to ``MAX_REPORTED_TOKENS``, else 0."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_REPORTED_TOKENS:
        return value
    return 0
