"""What one wire dialect and one provider kind must provide: ``WireDialect`` and ``ProviderAPI``.

A ``WireDialect`` object is everything the sidecar knows about one API family, on both sides of the
proxy:

- the app's side: the ``endpoints`` it serves (the router's table) and ``read_request`` (operation,
  requested model, stream, method from a path and a body), ``claims_path`` (whose 404 an unknown
  path gets, and whose shape ``GET /v1/models`` answers in), ``model_listing`` / ``model_entry`` (the
  models a sidecar serves, as its SDK's ``models.list()`` / ``retrieve`` read them);
- the upstream's side: ``upstream_path`` per operation, ``credentials`` (the key header),
  ``protocol_headers`` (dropped when the request goes to another dialect), ``add_protocol_headers``,
  ``same_dialect_body`` (+ ``same_dialect_drops``) / ``finish_translated_body`` (the body sent to one target);
- ``translation``: its functions (a ``translate.bundles.Translation``, its package's ``translation``):
  chat requests, responses and streams to and from the common form, the non-chat conversions with
  other dialects, the readers of usage and request parameters, the error body and error event its SDK
  raises on;
- the stream's shape: ``is_preamble`` (held back before the commit point), ``is_terminal`` (its
  normal end), ``is_malformed``, ``is_usage_only``, and ``error_event_raises`` (the SDK raises on an
  error event as it is, or it must be rewritten);
- what the features need of its request bodies: ``bodies`` (a ``BodyRules``, its package's ``bodies``
  module: ``output_limit`` for a budget's reservation and the routing features, ``set_output_limit``
  for routing's caps, ``append_turns`` for a gate's re-ask,
  ``cache_unfaithful``), ``transport_fields``, ``sampling_fields`` and ``response_id_prefix`` (the
  cache), ``answer_keys`` (what a 200 answer holds), ``request_id_header`` (the response header its
  SDK reads as the request id), and ``feature_walkers`` (its package's
  ``features.WALKERS``: routing's request features, one ``walking.FeatureWalker`` per operation).

A ``ProviderAPI`` is a kind of provider: the dialect it speaks, how its URL is formed from the
provider's ``base_url`` and the dialect's path, and where its key goes.

Neither holds state: one object per dialect and per kind, in ``registry``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import orjson

from ..sse import SSEEvent
from . import Dialect, Operation, ProviderKind
from .walking import FeatureWalker

if TYPE_CHECKING:
    from ..translate.bundles import Translation


class NoEquivalentOperation(Exception):
    """The target's dialect has no endpoint for this operation (e.g. /v1/responses on Anthropic)."""


class RequestProblem(Exception):
    """A request the sidecar cannot read: answered with ``status`` in the caller's dialect."""

    def __init__(self, status: int, message: str, *, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


UNSERVED_HINT = (
    " (the sidecar interprets the endpoints of docs/api.md; to forward others to a provider as they are,"
    " list them in the policy's passthrough)"
)
"""What the 404 of a path the sidecar does not serve adds: the setting that would forward it."""


_PART = re.compile(r"\{(\w+)(\+?)\}")
_ONE_SEGMENT = "[^/]+"
_SEGMENTS = "[^/]+(?:/[^/]+)*"  # one or more, none empty: a name holding '/' (``meta-llama/Llama-3-8B``)


def path_pattern(template: str) -> re.Pattern[str] | None:
    """The pattern of a path template whose ``{name}`` parts are each one path segment and whose
    ``{name+}`` parts are one or more (None for a path without either: it is compared as it is)."""
    if "{" not in template:
        return None
    pattern, last = [], 0
    for part in _PART.finditer(template):
        pattern.append(re.escape(template[last : part.start()]))
        pattern.append(f"(?P<{part[1]}>{_SEGMENTS if part[2] else _ONE_SEGMENT})")
        last = part.end()
    pattern.append(re.escape(template[last:]))
    return re.compile("".join(pattern))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A path the app's SDK calls: the route template (``{name}`` is one path segment), its dialect, and
    its operation (for Gemini the method in the path decides: ``read_request``)."""

    dialect: Dialect
    operation: Operation
    path: str
    model_in_path: bool = False
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pattern", path_pattern(self.path))

    def match(self, path: str) -> str | None:
        """The path's one parameter (the model, or Gemini's ``model:method``), ``""`` for a path without
        one; None when ``path`` is not this endpoint's."""
        if self._pattern is None:
            return "" if path == self.path else None
        found = self._pattern.fullmatch(path)
        return found.group(1) if found is not None else None


class RequestShape(NamedTuple):
    """What a request is, read from its path and body: the operation, the requested model, whether it
    streams, and Gemini's method (``""`` elsewhere). A named tuple: made per request, and a frozen
    dataclass's ``object.__setattr__`` per field costs twice as much."""

    operation: Operation
    model: str
    stream: bool
    method: str = ""


_WHOLE = frozenset((Operation.EMBEDDINGS, Operation.COUNT_TOKENS))
"""The operations whose answer is never a stream."""


def read_model_and_stream(endpoint: Endpoint, path_param: str, body: dict[str, Any]) -> RequestShape:
    """The requested model (from the path, else ``model`` in the body) and ``stream`` of a body-framed
    request (OpenAI and Anthropic)."""
    requested = path_param if endpoint.model_in_path else body.get("model")
    if not isinstance(requested, str) or not requested:
        raise RequestProblem(
            400, "'model' is required and must be a non-empty string", code="invalid_model", param="model"
        )
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise RequestProblem(400, "'stream' must be a boolean", code="invalid_type", param="stream")
    # Embeddings and token counts have no stream: their answer is read whole whatever the body says (it was
    # read as a stream, and a provider's whole answer failed as a truncated one, or the translation did).
    return RequestShape(endpoint.operation, requested, bool(stream) and endpoint.operation not in _WHOLE)


def require_objects(body: dict[str, Any], *names: str) -> None:
    """Raise the 400 the provider would when a field the sidecar reads as an object (``names``) is
    present, not null, and not an object (code ``invalid_type``, the field as ``param``)."""
    for name in names:
        value = body.get(name)
        if value is not None and not isinstance(value, dict):
            raise RequestProblem(400, f"'{name}' must be an object", code="invalid_type", param=name)


def error_raises(event: SSEEvent, *, name: str | None) -> bool:
    """True when ``event`` is named ``name`` and its data is ``{"error": {"message": "...", ...}}``."""
    if event.event != name:
        return False
    try:
        data = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        return False
    error = data.get("error") if isinstance(data, dict) else None
    return isinstance(error, dict) and isinstance(error.get("message"), str) and bool(error["message"])


@runtime_checkable
class BodyRules(Protocol):
    """What the sidecar's features read and write in a dialect's request bodies: a dialect package's
    ``bodies`` module (its ``WireDialect.bodies``) provides these four functions."""

    def output_limit(self, body: dict[str, Any], operation: Operation) -> Any:
        """The value of the field holding the request's output maximum for ``operation`` (unchecked: the
        caller keeps a positive integer), or None when the operation has none."""
        ...

    def set_output_limit(self, body: dict[str, Any], operation: Operation, value: int) -> dict[str, Any]:
        """A copy of ``body`` asking for at most ``value`` output tokens, in the field the operation reads."""
        ...

    def append_turns(self, body: Mapping[str, Any], operation: Operation, said: str, prompt: str) -> dict[str, Any]:
        """A copy of ``body`` with the assistant's ``said`` and a user turn ``prompt`` appended (a re-ask)."""
        ...

    def cache_unfaithful(self, body: Mapping[str, Any], raw: bytes) -> str | None:
        """Why the answer to ``body`` cannot be kept and replayed faithfully (the field asking for what the
        common form does not carry), or None; ``raw`` is the body's bytes (for markers costly to walk to)."""
        ...


class WireDialect(ABC):
    """One API family (see the module docstring). Subclasses are stateless singletons."""

    def __init__(self) -> None:
        # Read by every answer (``Attempt._judge``, ``answer_headers.add_sidecar_headers``): copied onto the
        # instance, whose attribute Python 3.11 specializes, where it leaves a class attribute read through
        # an instance generic (``answer_keys`` and ``answer_lists``: 791 -> 395 instructions, docs/benchmarks.md,
        # "Wave 50 `plain51`").
        self.answer_keys = self.answer_keys
        self.answer_lists = self.answer_lists
        self.request_id_header = self.request_id_header

    dialect: Dialect
    name: str
    """How people write it (in messages)."""
    endpoints: tuple[Endpoint, ...]
    paths: Mapping[Operation, str] = {}
    """The upstream path of each operation the dialect has (``upstream_path``)."""
    api_root: str = ""
    """The prefix of the dialect's paths on a server root (``/v1`` for OpenAI, whose providers'
    ``base_url`` ends there)."""
    protocol_headers: tuple[str, ...] = ()
    """Prefixes of the dialect's own protocol headers, dropped when the call goes to another dialect."""
    translation: Translation
    """Its translation entry points and readers (its package's ``translation.TRANSLATION``)."""

    # --- the app's side -----------------------------------------------------------------------------

    def read_request(
        self, endpoint: Endpoint, path: str, path_param: str, body: dict[str, Any], query: Mapping[str, str]
    ) -> RequestShape:
        """The request's shape; ``path_param`` is the endpoint's path parameter (``Endpoint.match``).
        Raises ``RequestProblem``. By default the body frames it: the model is in the path or in the
        body's ``model``, ``stream`` in the body."""
        return read_model_and_stream(endpoint, path_param, body)

    def path_problem(self, path: str, path_param: str) -> RequestProblem | None:
        """Why ``path`` (``path_param`` its parameter) is not served, whatever its body (Gemini's unknown
        method: its 404, answered before the body is read), or None. None by default."""
        return None

    @abstractmethod
    def claims_path(self, path: str, headers: Mapping[str, str] | None) -> bool:
        """True when an unknown path (or its headers) looks like this dialect's (to shape its 404, and
        the model list of ``GET /v1/models``, a path several dialects share)."""

    def model_listing(self, names: Sequence[str], created: int) -> dict[str, Any]:
        """The models a sidecar serves (``created``: a Unix time) as this dialect's SDK lists them. By
        default OpenAI's ``{object: list, data: [...]}``, which most tools read."""
        return {"object": "list", "data": [self.model_entry(name, created) for name in names]}

    def model_entry(self, name: str, created: int) -> dict[str, Any]:
        """One served model as this dialect's SDK reads it (by default OpenAI's model object)."""
        return {"id": name, "object": "model", "created": created, "owned_by": "llm-sidecar"}

    def names_a_method(self, name: str) -> bool:
        """Whether ``name``, asked as a model (``GET .../models/{name}``), is one of this dialect's POST
        endpoints instead (Gemini's ``x:generateContent``): that path asked with another method, which
        gets the 404 of any unrouted method and path. None by default."""
        return False

    # --- the upstream's side ------------------------------------------------------------------------

    def upstream_path(self, operation: Operation, model: str, *, stream: bool, method: str, body: Any) -> str:
        """The path of ``operation`` below the API root (``api_root``); raises ``NoEquivalentOperation``.
        By default from ``paths``."""
        path = self.paths.get(operation)
        if path is None:
            raise NoEquivalentOperation(f"{operation} has no {self.name} endpoint")
        return path

    @abstractmethod
    def credentials(self, key: str) -> tuple[str, str]:
        """The header (lower-case name, value) that carries ``key``."""

    def add_protocol_headers(self, headers: dict[str, str]) -> None:  # noqa: B027 - a hook: most need none
        """Headers the dialect's API requires that the app may not have sent (set when absent)."""

    @abstractmethod
    def same_dialect_body(
        self, body: dict[str, Any], raw: bytes, model: str, operation: Operation, stream: bool, *, max_tokens: int
    ) -> bytes:
        """The body for an upstream of the caller's own dialect: the app's, with ``model`` as the model;
        ``max_tokens`` is the output limit a translated body gets when the app set none (the target model's
        ``max_output_tokens``, else 4,096), for a dialect whose API requires one (Anthropic's)."""

    def same_dialect_drops(self, body: dict[str, Any], operation: Operation) -> tuple[str, ...]:
        """What ``same_dialect_body`` leaves out of the app's body (the provider would refuse it), by the
        app's names: listed as a translation's drops are."""
        return ()

    def finish_translated_body(self, body: dict[str, Any], operation: Operation, stream: bool) -> None:  # noqa: B027
        """Complete a body translated into this dialect (stream flags live in the body here or not)."""

    # --- the stream's shape -------------------------------------------------------------------------

    def is_preamble(self, event: SSEEvent) -> bool:
        """True for an event that carries no content yet and may be held back before the commit point."""
        return False

    @abstractmethod
    def is_terminal(self, operation: Operation, event: SSEEvent) -> bool:
        """True for the event that ends a stream normally; ``operation`` is the one the upstream was called for
        (a translated request's target operation: the Responses API's target is asked for its chat)."""

    @abstractmethod
    def may_end(self, operation: Operation, chunk: bytes) -> bool:
        """False only when no event in ``chunk`` (a stream's bytes of ``operation``) can be the terminal one
        (``is_terminal``): a byte search
        the relay makes before it parses a chunk it might forward as it came, once per upstream read
        (``chunk.find(marker) >= 0`` costs half of ``marker in chunk``: see ``server/stream.py``)."""

    def is_usage_only(self, event: SSEEvent) -> bool:
        """True for an event that carries usage and nothing else (OpenAI's trailing usage chunk)."""
        return False

    def allows_non_json(self, event: SSEEvent) -> bool:
        """True for an event that is allowed not to carry JSON (OpenAI's ``[DONE]``)."""
        return False

    def is_malformed(self, event: SSEEvent) -> bool:
        """True when an event that must carry a JSON object does not."""
        if self.allows_non_json(event):
            return False
        try:
            return not isinstance(orjson.loads(event.data), dict)
        except orjson.JSONDecodeError:
            return True

    @abstractmethod
    def error_event_raises(self, event: SSEEvent) -> bool:
        """True when the dialect's SDK raises on this error event as it is, with its message."""

    # --- what the features need of its request bodies ------------------------------------------

    bodies: BodyRules
    """Its package's ``bodies`` module: the output limit's field, the re-ask turns, what the cache
    cannot keep."""
    feature_walkers: Mapping[Operation, FeatureWalker] = {}
    """Routing's feature walker per operation (its package's ``features.WALKERS``); an operation
    without one is routed with its features unknown (no prompt estimate, tools or media)."""
    response_id_prefix: str
    """What a fresh response id starts with (as its translation's response builder makes one)."""
    response_id_base64: bool = False
    """A cache hit's fresh response id is 22 URL-safe base64 characters, the shape of the provider's own
    (Gemini's ``responseId``); False: ``response_id_prefix`` and 24 hex digits."""
    answer_extras: tuple[tuple[str | int, ...], ...] = ()
    """Paths of a whole chat answer's fields the common form does not carry (OpenAI's
    ``system_fingerprint``...; an int steps into a list): a cached answer keeps them, and a hit in this
    dialect gives them back (``cache.extras``)."""
    running_usage: str | None = None
    """The member each event of its stream carries the usage so far in, not only the last (Gemini's
    ``usageMetadata``): a cached stream keeps its first event's, and a hit gives it to each event
    without one (``cache.extras``)."""

    stream_padding: str | None = None
    """The member each event of its stream carries random characters in, to even out the events' sizes
    (OpenAI's ``obfuscation``): a cached stream that had it notes so, and a hit's stream has it on each
    event unless the request turned it off (``cache.extras``)."""

    def usage_so_far(self, usage: object) -> dict[str, Any] | None:
        """The usage so far its stream's first event carries (``running_usage``), as read from a whole
        answer's usage (``usage``, that member's value): a whole answer cached, then streamed, gives it to
        each event as the live stream does. None: no such usage (the dialect's default)."""
        return None

    answer_keys: frozenset[str] = frozenset()
    """Top-level keys at least one of which every 200 answer of its operations holds (OpenAI's
    ``choices``...): a 200 without any is not an answer, a failed attempt (``malformed_response``).
    Empty: not checked (a dialect that does not say). A key whose value is ``null`` holds no answer."""
    answer_lists: frozenset[str] = frozenset()
    """The ``answer_keys`` whose empty list holds no answer either (OpenAI's ``choices: []``): a 200 with
    nothing else is a failed attempt too, not an answer an SDK indexes into or a translation makes up."""
    request_id_header: str | None = None
    """The response header (lower-case) its SDK reports as the request id (openai-python's ``_request_id``
    reads ``x-request-id``); the sidecar sets it on an answer that is not the provider's own, as
    ``llm-sidecar-<request id>``. None: its SDK reads none."""
    transport_fields: frozenset[str] = frozenset()
    """Body fields that change how an answer travels or is billed, not what it says (not in a cache key)."""
    sampling_fields: tuple[str, ...] = ()
    """The body's objects holding its sampling parameters (``temperature``, ``seed``; Gemini's
    ``generationConfig``); empty: the body's top level."""


class ProviderAPI(ABC):
    """A kind of provider: the dialect it speaks, its URLs, where its key goes."""

    kind: ProviderKind
    otel_name: str = ""
    """``gen_ai.provider.name`` (``""``: the name of the dialect spoken)."""

    @abstractmethod
    def wire(self, caller: Dialect, speaks: Dialect | None) -> Dialect:
        """The dialect spoken to it for a caller of ``caller``'s (``speaks``: the policy's choice)."""

    def url(self, base_url: str, api_version: str | None, wire: WireDialect, path: str, model: str) -> str:
        """The URL of ``path`` (from ``wire.upstream_path``) on a provider at ``base_url``."""
        return base_url + path

    def credentials(self, wire: WireDialect, key: str) -> tuple[str, str]:
        """The header that carries the provider's key."""
        return wire.credentials(key)
