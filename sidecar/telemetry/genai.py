"""GenAI semantic conventions, pinned: attribute names, request parameters, usage, content capture.

Pinned version: OpenTelemetry semantic conventions **v1.41.0** (GenAI, "Development" status), i.e. the
v1.37+ names (``gen_ai.provider.name``, not ``gen_ai.system``; ``gen_ai.input.messages`` /
``gen_ai.output.messages`` as JSON; ``gen_ai.usage.cache_read.input_tokens``). Every span attribute and
GenAI metric name this package emits comes from the constants below, so a move to a later version is an
edit of this module.

- ``Usage``: the token counts of one call or one request, in one meaning whatever the dialect; ``Tokens``:
  what the telemetry reads of one (a ``Usage`` or the server's own usage record).
- ``request_param_attributes``: ``gen_ai.request.*`` attributes from a request's parameters.
- ``ContentCapture``: opt-in prompt/completion capture, serialised to JSON and cut to a byte cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Final, NamedTuple, Protocol

import orjson

SEMCONV_VERSION: Final = "1.41.0"
SCHEMA_URL: Final = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"

# gen_ai.client.operation.duration / time_to_first_chunk / time_per_output_chunk: 0.01 .. 81.92 s doubling.
DURATION_BUCKETS: Final = tuple(0.01 * 2**i for i in range(14))

# gen_ai.* (client inference spans and metrics)
OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
REQUEST_STREAM: Final = "gen_ai.request.stream"
RESPONSE_MODEL: Final = "gen_ai.response.model"
RESPONSE_ID: Final = "gen_ai.response.id"
RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"

# General and HTTP conventions used beside them.
ERROR_TYPE: Final = "error.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
HTTP_RESEND_COUNT: Final = "http.request.resend_count"
HTTP_METHOD: Final = "http.request.method"
HTTP_ROUTE: Final = "http.route"
HTTP_STATUS_CODE: Final = "http.response.status_code"
URL_PATH: Final = "url.path"

# ``request_params`` key (the sidecar's RequestParams field names) -> span attribute.
_REQUEST_PARAMS: Final = (
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("top_k", "gen_ai.request.top_k"),
    ("stop_sequences", "gen_ai.request.stop_sequences"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
    ("seed", "gen_ai.request.seed"),
    ("choice_count", "gen_ai.request.choice.count"),
)

_get_params: Final = attrgetter(*(key for key, _ in _REQUEST_PARAMS))
_PARAM_ATTRIBUTES: Final = tuple(attribute for _, attribute in _REQUEST_PARAMS)

_TRUNCATED_MARK: Final = "…[truncated]"


class Usage(NamedTuple):
    """Token counts reported by a provider; None where it reported nothing.

    ``input_tokens`` counts every prompt token, cached ones included; ``cached_input_tokens`` is the part
    read from a prompt cache (``gen_ai.usage.cache_read.input_tokens``). A named tuple, not a frozen
    dataclass: two are made for every request, traced or not, and this costs half as much.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None


class Tokens(Protocol):
    """The token counts the telemetry reads of a call or a request: a ``Usage``, or any record with these
    three (the server passes its own usage record as it is, not copied into a ``Usage``)."""

    @property
    def input_tokens(self) -> int | None: ...

    @property
    def output_tokens(self) -> int | None: ...

    @property
    def cached_input_tokens(self) -> int | None: ...


def request_param_attributes(
    params: Mapping[str, Any] | object | None, into: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``gen_ai.request.*`` attributes from a mapping or an object with the same field names, added to
    ``into`` (a span's attribute dict being built; a new dict if None), which is returned.

    Missing, None and empty values are left out; stop sequences become a string array.
    """
    attributes: dict[str, Any] = {} if into is None else into
    if params is None:
        return attributes
    values: Sequence[Any]
    # A named tuple (``RequestParams``) is never a Mapping: asked first, without the ABC's check.
    if not isinstance(params, tuple) and isinstance(params, Mapping):
        values = [params.get(key) for key, _ in _REQUEST_PARAMS]
    else:
        try:
            values = _get_params(params)
        except AttributeError:  # an object with only some of the fields
            values = [getattr(params, key, None) for key, _ in _REQUEST_PARAMS]
    # as long as each other; no strict= (a keyword costs zip() its argument parsing, per span)
    for attribute, value in zip(_PARAM_ATTRIBUTES, values):  # noqa: B905
        if value is None:
            continue
        kind = type(value)
        if kind is int or kind is float or kind is str:  # the usual values, without the checks below
            attributes[attribute] = value
        elif kind is tuple or kind is list or isinstance(value, list | tuple):
            if value:
                attributes[attribute] = [str(item) for item in value]
        elif not isinstance(value, bool | dict) and isinstance(value, int | float | str):
            attributes[attribute] = value
    return attributes


def usage_attributes(usage: Tokens, into: dict[str, Any] | None = None) -> dict[str, Any]:
    """``gen_ai.usage.*`` attributes of the counts that are known, added to ``into`` (a new dict if
    None), which is returned."""
    attributes: dict[str, Any] = {} if into is None else into
    if usage.input_tokens is not None:
        attributes[USAGE_INPUT_TOKENS] = usage.input_tokens
    if usage.output_tokens is not None:
        attributes[USAGE_OUTPUT_TOKENS] = usage.output_tokens
    if usage.cached_input_tokens is not None:
        attributes[USAGE_CACHE_READ_INPUT_TOKENS] = usage.cached_input_tokens
    return attributes


@dataclass(frozen=True, slots=True)
class ContentCapture:
    """Prompt and completion capture: off unless enabled, each value cut to ``max_bytes`` of UTF-8.

    A value is serialised with orjson (anything it cannot serialise is rendered with ``str``). A cut value
    ends with ``…[truncated]`` and is no longer valid JSON; the span then also carries
    ``sidecar.content.truncated = true``.
    """

    enabled: bool = False
    max_bytes: int = 8192

    def encode(self, content: Any) -> tuple[str, bool] | None:
        """``(json_text, truncated)`` for ``content``; None when capture is off or there is nothing."""
        if not self.enabled or content is None:
            return None
        raw = content.encode() if isinstance(content, str) else orjson.dumps(content, default=str)
        if len(raw) <= self.max_bytes:
            return raw.decode(), False
        mark = _TRUNCATED_MARK.encode()
        cut = raw[: max(0, self.max_bytes - len(mark))].decode(errors="ignore")
        return cut + _TRUNCATED_MARK, True
