"""The common form every dialect is read into and written from.

Requests and responses travel as ``TypedDict``s (plain dicts at run time: building one costs what a dict
costs, no validation); ``Usage`` is a frozen dataclass (its ``__init__`` written out to store its fields
as plain slots: one is made for every answer), ``RequestParams`` a named tuple (built for every traced request).

Request side::

    ChatRequest  system: list[str]        (every system/developer prompt, in order)
                 messages: list[Message]  Message = {role: "user"|"assistant", parts: list[Part]}
                 tools, tool_choice, parallel_tool_calls, response_format
                 max_tokens, temperature, top_p, top_k, stop, n, seed, presence_penalty,
                 frequency_penalty, user, stream, thinking (``thinking.Thinking``),
                 logprobs (True when asked), top_logprobs (runners-up per token: ``logprobs``),
                 param_names (the caller's names for these, read by ``params.caller_name``)
    Part         TextPart | MediaPart | ToolCallPart | ToolResultPart | ReasoningPart
                 tool calls live in assistant messages, tool results in user messages (as in Anthropic
                 and Gemini); ToolCallPart.arguments is always a parsed JSON object. ReasoningPart is
                 answer-side only (requests never carry one): the model's shown reasoning and the
                 provider's opaque signature, which only its ``origin`` dialect can read.

Response side::

    ChatResponse id, choices: list[Choice], usage     Choice = {parts, finish_reason, stop_sequence}
                 a Choice may carry ``logprobs`` (one ``TokenLogprob`` per token of its text) and
                 ``citations`` (``Citation``: a source and the span of its text it supports, in
                 characters)

Stream side: one upstream event -> a few deltas (``deltas``: ``Start``, ``Text``, ``ToolStart``,
``ToolArgs``, ``Reasoning``, ``ReasoningSignature``, ``Cited``, ``Finish``, ``UsageSeen``, ``Failure``,
``End``)
-> caller events, see ``stream``.

``as_count`` reads a provider's token count into ``Usage`` (a count no call could reach reads as not
reported), ``as_tier`` the service tier it says it served a call at. The errors and options of a
translation are in ``options``, the helpers that read and make parts in ``parts``, the media-type helpers
in ``media``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, NotRequired, TypedDict

from .thinking import Thinking

# ---------------------------------------------------------------------------------------------------------
# Usage and request parameters (public)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts in one meaning whatever the dialect.

    ``input_tokens`` counts every prompt token, cached and cache-written ones included (OpenAI and Gemini
    already count so; Anthropic's ``input_tokens`` excludes both cache fields and is summed here).
    ``output_tokens`` counts every generated token, reasoning included. ``cached_input_tokens`` (read from a
    cache), ``cache_write_tokens`` (written to one, Anthropic) and ``reasoning_tokens`` are subsets;
    ``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` written for an hour (Anthropic's
    ``cache_creation.ephemeral_1h_input_tokens``; the rest are 5-minute writes), priced apart.
    ``audio_input_tokens`` and ``audio_output_tokens`` are the audio parts of the prompt and the output
    (OpenAI's ``audio_tokens`` in its details, Gemini's ``AUDIO`` modality counts), priced apart.
    ``service_tier`` is the tier the provider says it served the call at (OpenAI's ``service_tier``:
    ``default``, ``flex``, ``priority``; Anthropic's ``usage.service_tier``: ``standard``, ``priority``),
    None when it says none; a price may name the tier's prices (``PriceSpec.service_tiers``).
    ``web_search_calls`` counts the web searches the provider ran for the call, billed per search, not per
    token (Anthropic's ``usage.server_tool_use.web_search_requests``, OpenAI's Responses
    ``web_search_call`` output items, a chat answer citing the web, Gemini's distinct grounding queries:
    ``PriceSpec.web_search_per_1k_calls``).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_1h_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    service_tier: str | None = None
    web_search_calls: int = 0

    def __init__(
        self,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
        cache_write_1h_tokens: int = 0,
        audio_input_tokens: int = 0,
        audio_output_tokens: int = 0,
        service_tier: str | None = None,
        web_search_calls: int = 0,
    ) -> None:
        # Each field stored as a plain slot: Python 3.11 specializes a store to a slot only in a class
        # without a ``__setattr__`` of its own, which a frozen dataclass has, so the instance is a
        # ``_UsageFields`` (the same slots, none of the frozen refusal) while its fields are stored, and a
        # ``Usage`` again after. About 5,400 instructions a ``Usage``, against 9,200 for its slots' setters
        # called one by one and 15,300 for the dataclass's own ``__init__`` (``object.__setattr__`` a field).
        # One is made for every answer (docs/benchmarks.md, "Wave 50 `plain51`").
        _set_class(self, "__class__", _UsageFields)
        built: _UsageFields = self  # type: ignore[assignment]
        built.input_tokens = input_tokens
        built.output_tokens = output_tokens
        built.cached_input_tokens = cached_input_tokens
        built.cache_write_tokens = cache_write_tokens
        built.reasoning_tokens = reasoning_tokens
        built.cache_write_1h_tokens = cache_write_1h_tokens
        built.audio_input_tokens = audio_input_tokens
        built.audio_output_tokens = audio_output_tokens
        built.service_tier = service_tier
        built.web_search_calls = web_search_calls
        built.__class__ = Usage  # type: ignore[assignment]

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def plus(self, other: Usage) -> Usage:
        """The counts of two calls together: field-wise sums (the tier: this call's; each call is priced
        apart, ``sidecar.cost``)."""
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            self.audio_input_tokens + other.audio_input_tokens,
            self.audio_output_tokens + other.audio_output_tokens,
            self.service_tier,
            self.web_search_calls + other.web_search_calls,
        )

    def merge(self, later: Usage) -> Usage:
        """Combine two usages seen on one stream: stream counts are cumulative, so field-wise maximum.
        ``later`` itself when no count of it is smaller (the usual case: Gemini repeats its growing totals
        on every fragment): no new object made. The tier: the later one's, else this one's."""
        if (
            later.input_tokens >= self.input_tokens
            and later.output_tokens >= self.output_tokens
            and later.cached_input_tokens >= self.cached_input_tokens
            and later.cache_write_tokens >= self.cache_write_tokens
            and later.reasoning_tokens >= self.reasoning_tokens
            and later.cache_write_1h_tokens >= self.cache_write_1h_tokens
            and later.audio_input_tokens >= self.audio_input_tokens
            and later.audio_output_tokens >= self.audio_output_tokens
            and (later.service_tier is not None or self.service_tier is None)
            and later.web_search_calls >= self.web_search_calls
        ):
            return later
        return Usage(
            max(self.input_tokens, later.input_tokens),
            max(self.output_tokens, later.output_tokens),
            max(self.cached_input_tokens, later.cached_input_tokens),
            max(self.cache_write_tokens, later.cache_write_tokens),
            max(self.reasoning_tokens, later.reasoning_tokens),
            max(self.cache_write_1h_tokens, later.cache_write_1h_tokens),
            max(self.audio_input_tokens, later.audio_input_tokens),
            max(self.audio_output_tokens, later.audio_output_tokens),
            later.service_tier if later.service_tier is not None else self.service_tier,
            max(self.web_search_calls, later.web_search_calls),
        )


class _UsageFields:
    """A ``Usage`` while its ``__init__`` stores its fields: its very slots (so an instance may change
    between the two classes), without the frozen ``__setattr__`` that refuses a store afterwards."""

    __slots__ = Usage.__slots__
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cache_write_1h_tokens: int
    audio_input_tokens: int
    audio_output_tokens: int
    service_tier: str | None
    web_search_calls: int


_set_class = object.__setattr__  # a ``Usage`` made a ``_UsageFields``: past its frozen ``__setattr__``


class RequestParams(NamedTuple):
    """The generation parameters of a request, for GenAI span attributes (``gen_ai.request.*``).

    A named tuple, not a frozen dataclass: built for every traced request, it costs a fifth as much.
    Each field holds exactly its annotated type or None (``extract_request_params`` converts: counts
    stay int, temperature, top_p and penalties become float, a bool is never a number), so two equal
    values give the same span attributes (``telemetry.genai.request_param_attributes``).
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
    logprobs: bool
    top_logprobs: int
    param_names: dict[str, str]
    """The caller's own names of the fields above it sent under another name (``stop`` was
    ``stop_sequences``, ``n`` was ``candidateCount``...): a refusal or a drop names what the app sent
    (``params.caller_name``)."""


class Alternative(TypedDict):
    """One of the most likely tokens at a position, and its log-probability."""

    token: str
    logprob: float


class TokenLogprob(TypedDict):
    """A token of the answer's text, its log-probability and the most likely tokens at its position
    (best first; the chosen one among them when it ranks there), as OpenAI's ``logprobs.content[]`` and
    Gemini's ``logprobsResult`` give them."""

    token: str
    logprob: float
    top: list[Alternative]


class Citation(TypedDict):
    """A source the answer's text cites: ``start`` and ``end`` (exclusive) count characters (code
    points) of the choice's text, its text parts joined."""

    url: str
    title: str | None
    start: int
    end: int


class Choice(TypedDict):
    parts: list[Part]
    finish_reason: FinishReason | None
    stop_sequence: str | None
    logprobs: NotRequired[list[TokenLogprob]]
    citations: NotRequired[list[Citation]]


class ChatResponse(TypedDict):
    id: str | None
    choices: list[Choice]
    usage: Usage | None


# ---------------------------------------------------------------------------------------------------------
# Reading token counts

MAX_REPORTED_TOKENS = 1_000_000_000
"""The largest token count read from a provider's usage: no call reads or writes a billion tokens, so a
larger count (or a negative one) is a provider lying, and is read as not reported (0) rather than let it
credit a budget, overflow a counter or a 64-bit JSON integer when summed."""


def as_count(value: Any) -> int:
    """A token count (or index) a provider reported: an integer from 0 to ``MAX_REPORTED_TOKENS``, else 0."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_REPORTED_TOKENS:
        return value
    return 0


def as_tier(value: Any) -> str | None:
    """A service tier a provider reported (``Usage.service_tier``): a short string, else None."""
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None
