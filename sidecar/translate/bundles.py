"""What one dialect's translation must provide: ``Translation``, the bundle of its functions.

Each dialect's package builds its own (``sidecar/dialects/<dialect>/translation.py``: ``TRANSLATION``)
and its ``WireDialect`` holds it as ``translation``; the facade (``translate.__init__``) and the stream
factories ask the registry for it (``registry.wire(dialect).translation``).

The non-chat conversions are pairwise: ``requests_from[(operation, caller)]`` turns another dialect's
request into this one's, ``responses_to[(operation, caller)]`` this dialect's response into another's
(OpenAI embeddings <-> Gemini embedContent / batchEmbedContents, Anthropic count_tokens <-> Gemini
countTokens).

``forms[operation]`` (``ChatForm``) is another of a caller dialect's operations that is a chat in the
common form, read and written by its own functions (OpenAI's Responses API): a target of another dialect
serves it as its chat (``chat_operation``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..dialects import Dialect, Operation
from ..dialects.errors import ErrorCondition
from ..sse import SSEEvent
from .common import ChatRequest, ChatResponse, RequestParams, Usage
from .names import ToolNameRule
from .options import Drops, TranslateOptions
from .shapes import OBJECT, Json, SettingRule, setting_rules, settings_of

if TYPE_CHECKING:
    from .stream import StreamDecoder, StreamEncoder

RequestConverter = Callable[[dict[str, Any], str, Drops, TranslateOptions], dict[str, Any]]
"""A non-chat request of another dialect as this dialect's body: ``(body, target model, drops, options)``."""
ResponseConverter = Callable[[dict[str, Any], str, dict[str, Any]], dict[str, Any]]
"""A non-chat response of this dialect as another dialect's body: ``(body, reported model, the caller's
request body)`` (the request says how the caller wants it written: OpenAI's ``encoding_format``)."""


@dataclass(frozen=True, slots=True)
class ChatForm:
    """A caller's operation other than its chat that is a chat in the common form (OpenAI's Responses
    API): its request read, its answer and stream written by its own functions; its target of another
    dialect is called for a chat (``chat_operation``)."""

    parse_request: Callable[[dict[str, Any], Drops], ChatRequest]
    build_response: Callable[[ChatResponse, str, dict[str, Any]], dict[str, Any]]
    """``(answer, reported model, the caller's request body)``: the request's settings are echoed."""
    encoder: Callable[[str, dict[str, Any]], StreamEncoder]
    """An encoder of common deltas into the caller's stream: ``(reported model, the caller's request)``."""
    chat_operation: Operation = Operation.CHAT
    """The operation a target of another dialect is called for."""
    request_shape: Json = field(default_factory=OBJECT)
    """The JSON types of its request's documented fields (``translate.shapes``), as ``chat_request_shape``."""
    settings_shape: Json = field(init=False)
    settings_rules: Mapping[str, SettingRule] = field(init=False)

    def __post_init__(self) -> None:
        settings = settings_of(self.request_shape)
        object.__setattr__(self, "settings_shape", settings)
        object.__setattr__(self, "settings_rules", setting_rules(settings))


class ErrorBody(Protocol):
    def __call__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        condition: ErrorCondition | None = None,
    ) -> dict[str, Any]: ...


class ErrorEvent(Protocol):
    def __call__(
        self, status: int, message: str, *, code: str | None = None, condition: ErrorCondition | None = None
    ) -> SSEEvent: ...


class SearchTally(Protocol):
    """The web searches one upstream stream's events show so far, counted as its provider bills them
    (``Usage.web_search_calls``): the relay hands it every event whose data holds ``key`` (bytes, quoted
    so that an answer's text, escaped in its JSON string, rarely holds them; a false match is read and
    counts nothing) and merges ``count()`` into the stream's usage at its end, clean, failed or cut
    (``Usage.merge``: the larger of the events' count and the usage's own)."""

    key: bytes

    def see(self, data: bytes) -> None:
        """Count what one event's ``data`` (which holds ``key``) shows."""

    def count(self) -> int:
        """The searches the events seen so far ran."""


@dataclass(frozen=True, slots=True)
class Translation:
    """One dialect's functions: chat requests, responses and streams to and from the common form, the
    non-chat conversions it has with other dialects, the readers of usage and request parameters, its
    error body and error event."""

    parse_request: Callable[[dict[str, Any], Drops], ChatRequest]
    build_request: Callable[[ChatRequest, str, Drops, TranslateOptions], dict[str, Any]]
    parse_response: Callable[[dict[str, Any]], ChatResponse]
    build_response: Callable[[ChatResponse, str], dict[str, Any]]
    decoder: Callable[[], StreamDecoder]
    """A decoder of one chat stream's events into common deltas."""
    encoder: Callable[[str, bool], StreamEncoder]
    """An encoder of common deltas into one caller's chat stream: ``(reported model, include_usage)``."""
    usage: Callable[[dict[str, Any]], Usage | None]
    """Usage of a whole (non-stream) response; None when it reports none."""
    stream_usage: Callable[[SSEEvent, Usage | None], Usage | None]
    """The stream's usage after one event, given its usage before it (None: none yet), as the dialect
    combines its reports (each a total so far); None when the event carries none."""
    request_params: Callable[[dict[str, Any]], RequestParams]
    """The generation parameters of a request body (span attributes)."""
    error_body: ErrorBody
    """The JSON error body the dialect's SDK expects: ``(status, message, *, code, param, condition)``;
    with a ``condition`` (``dialects.errors.ErrorCondition``: another provider's error), the type and code
    its provider sends for it (the dialect's ``response.ERROR_WORDS``) instead of ``code``."""
    error_event: ErrorEvent
    """The event that makes the caller's SDK raise after a mid-stream failure: ``(status, message, *,
    code, condition)``, the code where the dialect's error has a place for one (as ``error_body``)."""
    stream_usage_key: bytes | None = None
    """The key of an event's usage when every event that carries it says the stream's totals so far
    (Gemini's ``"usageMetadata"``, quoted): a relay may then read only the last such event, at the
    stream's end; None: each event's usage is read as it passes (``stream_usage``)."""
    stream_searches: Callable[[Operation], SearchTally | None] | None = None
    """A new tally of the web searches one stream of an operation shows in its events (``SearchTally``;
    None: the operation's events show none), for the relay of a model whose price has a search fee
    (``Target.searches_priced``): what a stream cut before the event that reports its searches (or whose
    usage never counts them: an OpenAI search model's chat) ran and its provider bills."""
    condition_statuses: Mapping[ErrorCondition, int] = field(default_factory=dict)
    """The HTTP status this dialect's provider sends for an error condition where another provider's
    status for it differs (the dialect's ``response.CONDITION_STATUSES``): an upstream error of another
    dialect reaches the caller with it (its SDK's error class and retry rules go by the status); any
    other condition keeps the upstream's status."""
    requests_from: Mapping[tuple[Operation, Dialect], RequestConverter] = field(default_factory=dict)
    responses_to: Mapping[tuple[Operation, Dialect], ResponseConverter] = field(default_factory=dict)
    forms: Mapping[Operation, ChatForm] = field(default_factory=dict)
    """This dialect's other operations that are a chat in the common form (``ChatForm``)."""
    tool_names: ToolNameRule | None = None
    """The function names this dialect's provider takes (``translate.names``); None: any name. A
    translated request's names it refuses are mapped, and mapped back in the answer."""
    chat_request_shape: Json = field(default_factory=OBJECT)
    """The JSON types of a chat request's documented fields (``translate.shapes``): the field a body
    that cannot be read got wrong, named in the 400."""
    chat_settings_shape: Json = field(init=False)
    """``chat_request_shape``'s scalar settings (``shapes.settings_of``), checked in every chat body
    translated from this dialect (``chat_settings_rules``, then worded from this shape)."""
    chat_settings_rules: Mapping[str, SettingRule] = field(init=False)

    def __post_init__(self) -> None:
        settings = settings_of(self.chat_request_shape)
        object.__setattr__(self, "chat_settings_shape", settings)
        object.__setattr__(self, "chat_settings_rules", setting_rules(settings))
