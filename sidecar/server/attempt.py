"""One upstream attempt: send the prepared request to one target and judge what comes back.

``prepare`` turns the caller's request into the request for one target, once per target: same dialect
rewrites only the model (or forwards the bytes untouched when the model is in the path); another
dialect goes through ``translate``. ``Attempt.run`` makes the call under the attempt's timeouts:

    connect (socket) -> first byte (headers; first content for streams) -> idle gap (per read) -> total

connect, idle and total are the upstream client's (aiohttp's timers, ``upstream.client``); the first
byte deadline is set here, around the wait for the head (for streams, ``stream`` keeps it until the
first content event), because it also depends on what is left of the request's deadline. It returns an
``AttemptResult``: either a response for the caller (success, or the upstream's own error when the
request itself is wrong) or an ``Outcome`` that the fallback loop acts on. Non-stream bodies are read
whole within ``SIDECAR_UPSTREAM_MAX_BODY_BYTES`` and checked (an upstream that answers 200 with garbage
is a failure, not an answer; one whose 2xx answer breaks off, times out or is garbage accepted the call,
which is charged to the request: ``billed``, as is a call sent whose head did not come in time); streams
are handed to ``stream.relay_stream`` which owns the commit point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
import orjson
from aiohttp.web import Response, StreamResponse

from ..credentials import Credentials, app_key
from ..deadline import Deadline, DeadlineClock
from ..dialects import Dialect, registry
from ..ensemble.confidence import with_logprobs
from ..held_bytes import HeldBytesFull
from ..policy.compiled import Target
from ..policy.resilience_plan import AttemptTimeouts
from ..resilience.classify import (
    Outcome,
    OutcomeKind,
    TimeoutPhase,
    classify_exception,
    classify_response,
    pool_full,
)
from ..telemetry import AttemptTrace
from ..translate import (
    TranslateOptions,
    TranslationError,
    Usage,
    extract_usage,
    target_operation,
    translate_request,
    translate_response,
)
from ..translate.names import ToolNames
from ..translate.numbers import exact_body
from ..translate.options import DEFAULT_MAX_TOKENS
from ..upstream import (
    ANSWER_DROP,
    STREAM_DROP,
    MalformedResponse,
    RelayHeaders,
    TLSConfigError,
    UpstreamClient,
    UpstreamHeaders,
    UpstreamResponse,
    request_sent,
    upstream_url,
    waited_for_a_connection,
)
from .billed import answer_tokens, charge_failed, charge_unanswered
from .exchange import Exchange
from .key_redaction import headers_without_key, without_key
from .pipeline import MAX_BODY_DEPTH, too_deep
from .prepared import Prepared
from .stream import relay_stream
from .stream_answer import HeldStream
from .timeout_words import explain_timeout

_SUCCESS = Outcome.success()
# A global: Python 3.11 leaves an Enum member's read through its class unspecialized (~900 instructions, "Wave 47")
_SUCCEEDED = OutcomeKind.SUCCESS
# A 200 whose JSON holds none of its dialect's ``answer_keys`` is not an answer (``{}``, another API's
# JSON), nor one whose answer keys are all ``null`` or, for its ``answer_lists``, empty (OpenAI's
# ``choices: []``, Anthropic's ``content: null``): a failed attempt that falls back, on a same-dialect
# route (which would relay it as is, for the app's SDK to fail on) as on a translated one (which would
# make up an empty answer). A dialect that names none: any dialect's keys, and only an error object
# fails (``error_in_success``).
_ANY_ANSWER = frozenset().union(
    *(registry.wire(d).answer_keys for d in (Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI))
)


def _holds_answer(parsed: dict[str, Any], keys: frozenset[str], lists: frozenset[str]) -> bool:
    """Whether one of the answer ``keys`` in ``parsed`` holds something: not ``null``, and not an empty
    list for a key of ``lists``."""
    for key in keys:
        value = parsed.get(key)
        if value is not None and (value or key not in lists):
            return True
    return False


@dataclass(slots=True)
class AttemptResult:
    outcome: Outcome
    response: StreamResponse | None = None
    usage: Usage | None = None
    response_model: str | None = None
    response_id: str | None = None
    # never changed in place, only replaced: immutable defaults, no list or dict made per result
    finish_reasons: Sequence[str] = ()
    upstream_status: int | None = None
    upstream_body: bytes = b""
    upstream_headers: Mapping[str, str] | None = None  # a failed call's (``_judge``), relayed with its error
    held: HeldStream | None = None  # a whole stream held back (exchange.hold_stream), not sent yet
    parsed: dict[str, Any] | None = None  # a whole answer's body as the upstream sent it, parsed (wire dialect)
    # ``usage`` left unread (``Exchange.usage_after_answer``): the call's telemetry, which keeps a place for it
    # until the handler reads it from ``parsed`` after the answer is out (``deliver``: ``Exchange.usage_later``)
    usage_later: AttemptTrace | None = None


def prepare(exchange: Exchange, target: Target, unsupported: str) -> Prepared:
    """Build the upstream request for ``target``; raises UnsupportedParameter / NoEquivalentOperation. A
    translated body asks for log-probabilities when the exchange says so (``Exchange.upstream_logprobs``)."""
    facts = exchange.facts
    caller, operation, stream = facts.dialect, facts.operation, facts.stream
    wire = target.provider.wire_dialect(caller)
    upstream = registry.wire(wire)
    body = facts.body
    include_usage = bool((body.get("stream_options") or {}).get("include_usage")) if stream else False
    dropped: tuple[str, ...] = ()
    names: ToolNames | None = None
    sent: Any = body
    max_tokens = target.max_output_tokens or DEFAULT_MAX_TOKENS
    if wire is caller:
        data = upstream.same_dialect_body(
            body, exchange.raw, target.upstream_model, operation, stream, max_tokens=max_tokens
        )
        dropped = upstream.same_dialect_drops(body, operation)
    else:
        options = TranslateOptions(
            default_max_tokens=max_tokens,
            model_max_output_tokens=target.max_output_tokens,
            unsupported="drop" if unsupported == "drop" else "error",
        )
        translated, dropped_list, names = translate_request(
            exact_body(body, exchange.raw),  # an integer beyond 64 bits stays exact (``translate.numbers``)
            source=caller,
            target=wire,
            operation=operation,
            target_model=target.upstream_model,
            options=options,
            stream=stream,
        )
        dropped = tuple(dropped_list)
        operation = target_operation(operation, caller)  # the Responses API: the target's chat
        if exchange.upstream_logprobs:  # an ensemble's confidence vote, which the caller's dialect cannot ask
            translated = with_logprobs(translated, wire, operation)[0]
        upstream.finish_translated_body(translated, operation, stream)
        data = orjson.dumps(translated)
        sent = translated
    method = facts.path_method if wire is caller else ""
    url = upstream_url(target.provider, wire, operation, target.upstream_model, stream=stream, method=method, body=sent)
    return Prepared(target, wire, url, data, dropped, include_usage, operation, names)


class Attempt:
    """Makes attempts over the process's one upstream client (``client``, whose ``held`` is the process's
    account of held bytes); holds the header filters, which remember each header name's verdict."""

    def __init__(self, client: UpstreamClient, credentials: Credentials) -> None:
        self.client = client
        self._credentials = credentials
        self._sent = UpstreamHeaders()  # the app's headers to the provider's
        self._relayed = RelayHeaders(ANSWER_DROP)  # a whole answer's headers to the app's
        self._streamed = RelayHeaders(STREAM_DROP)  # a stream's
        self._deadlines = DeadlineClock()  # the first byte's deadlines: one timer for all (the client's one loop)

    def key_for(self, exchange: Exchange, target: Target) -> str | None:
        """The key ``target``'s provider is sent for this request (None: it takes none); raises
        ``CredentialError`` when it cannot be read (then the target cannot be called: a skip)."""
        spec = target.provider.api_key
        if spec is None:
            return None
        request = exchange.request
        sent = app_key(request.headers, request.query) if spec.passthrough else None
        return self._credentials.key_for(spec, sent)

    def check_tls(self, target: Target) -> None:
        """Raises ``TLSConfigError`` when ``target``'s provider's ``tls`` files cannot be used (then the
        target cannot be called: a skip, as for a key)."""
        self.client.check_tls(target.provider)

    async def run(
        self,
        exchange: Exchange,
        prepared: Prepared,
        timeouts: AttemptTimeouts,
        trace: AttemptTrace,
        budget_s: float,
        first_byte: asyncio.Event | None = None,
        *,
        key: str | None,
    ) -> AttemptResult:
        """One call with ``key`` (``key_for``'s); ``budget_s`` is what remains of the request's deadline.

        ``first_byte`` is set when the response headers arrive (hedging waits on it).
        """
        request = exchange.request
        facts = exchange.facts
        provider = prepared.target.provider
        sent = self._sent  # an instance's callable: read as an attribute (``self._sent(...)`` stays generic)
        headers = sent(request.headers, provider, facts.dialect, prepared.wire, key)
        # Streams ask for identity so that every event is relayed the moment it arrives.
        headers["accept-encoding"] = "identity" if facts.stream else "gzip, deflate"
        trace.inject(headers)
        loop = self.client.loop  # not ``asyncio.get_running_loop()``: a ``getpid`` system call each time
        first_byte_s = timeouts.first_byte_s
        # the smaller, without ``min`` (a builtin taking any iterable: about 1,300 instructions a call)
        first_byte_by = loop.time() + (first_byte_s if first_byte_s <= budget_s else budget_s)
        response: UpstreamResponse | None = None
        phase: TimeoutPhase = "first_byte"
        try:
            deadline = Deadline(loop, first_byte_by, self._deadlines)  # waiting for a connection, connecting, the head
            try:
                response = await self.client.post(provider, prepared.url, headers, prepared.body, timeouts)
            except asyncio.CancelledError:
                if deadline.lift():
                    raise TimeoutError from None
                raise
            finally:
                deadline.lift()
            phase = "total"
            if first_byte is not None:
                first_byte.set()
            if facts.stream and 200 <= response.status < 300:
                explain = partial(explain_timeout, timeouts=timeouts, budget_s=budget_s, stream=True)
                return await relay_stream(
                    exchange,
                    prepared,
                    response,
                    trace,
                    first_byte_by,
                    self.client.max_body,
                    key,
                    self._streamed,
                    explain,
                )
            body = await response.read()
            return self._judge(exchange, prepared, response, body, key, trace)
        except TimeoutError as exc:  # aiohttp's connect and read timeouts name their phase themselves
            if response is None and waited_for_a_connection():  # the sidecar's own queue: not the provider
                waited_s = first_byte_s if first_byte_s <= budget_s else budget_s
                return AttemptResult(pool_full(f"no free upstream connection within {waited_s:.3g} s (its limits)"))
            outcome = explain_timeout(classify_exception(exc, timeout_phase=phase), timeouts, budget_s)
            if response is None and request_sent():  # sent, no head in time: the provider may be answering
                charge_unanswered(exchange, prepared.target, outcome.error_type)
                return AttemptResult(outcome)
            return _body_failed(exchange, prepared, response, outcome)
        except (aiohttp.ClientError, OSError, MalformedResponse, HeldBytesFull) as exc:
            return _body_failed(exchange, prepared, response, classify_exception(exc))
        except TLSConfigError as exc:  # checked before the call (``Calls.candidate``): a context is kept once built
            return AttemptResult(Outcome.failure("tls_config", str(exc), no_retry=True))
        finally:
            if response is not None:
                response.close()

    def _judge(
        self,
        exchange: Exchange,
        prepared: Prepared,
        response: UpstreamResponse,
        body: bytes,
        key: str | None,
        trace: AttemptTrace,
    ) -> AttemptResult:
        caller = exchange.facts.dialect
        wire = prepared.wire
        status = response.status
        relay = self._relayed  # an instance's callable: read as an attribute (``self._relayed(...)``: generic)
        relayed = headers_without_key(relay(response.headers.items()), key)
        if 200 <= status < 300:
            outcome = _SUCCESS
        else:
            body = without_key(body, key)
            assert exchange.route is not None
            outcome = classify_response(
                wire,
                status,
                response.headers,
                body,
                exchange.route.settings.resilience.fallback_on or frozenset(),
            )
        if outcome.kind is not _SUCCEEDED:
            result = AttemptResult(outcome, upstream_status=status, upstream_body=body)
            result.upstream_headers = relayed
            return result
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            invalid = Outcome.failure("malformed_response", "upstream sent invalid JSON")
            return _billed(exchange, prepared, status, invalid, output_tokens=answer_tokens(body))
        if not isinstance(parsed, dict):
            not_object = Outcome.failure("malformed_response", "upstream sent a non-object body")
            return _billed(exchange, prepared, status, not_object, output_tokens=answer_tokens(body))
        if too_deep(body, parsed):  # translated or relayed, the answer is written again: orjson cannot
            reason = f"upstream sent a body nested more than {MAX_BODY_DEPTH} levels deep"
            too_deep_answer = Outcome.failure("malformed_response", reason)
            return _billed(exchange, prepared, status, too_deep_answer, output_tokens=answer_tokens(body))
        upstream = registry.wire(wire)
        keys = upstream.answer_keys or _ANY_ANSWER
        if not _holds_answer(parsed, keys, upstream.answer_lists):  # no answer in it, relayed or translated alike
            if isinstance(parsed.get("error"), dict):  # an error object: the upstream lies about its status
                lied = Outcome.failure("error_in_success", "upstream sent an error with status 200")
                return AttemptResult(lied, upstream_status=status)
            if keys is not _ANY_ANSWER:
                no_answer = Outcome.failure("malformed_response", "upstream sent a 200 that holds no answer")
                return _billed(exchange, prepared, status, no_answer)
        result = _answered(exchange, wire, status, parsed, trace)
        relayed["content-type"] = response.headers.get("content-type", "application/json")
        if wire is not caller:
            relayed["content-type"] = "application/json"
            try:
                out = translate_response(
                    exact_body(parsed, body),
                    source=wire,
                    target=caller,
                    operation=exchange.facts.operation,
                    model=prepared.target.upstream_model,
                    request=exchange.facts.body,
                    names=prepared.names,
                )
            except TranslationError:  # a body of the wrong shape (a string for a message...): the upstream's fault
                reason = f"upstream sent a {wire.value} body of the wrong shape"
                wrong = Outcome.failure("malformed_response", reason)
                return _billed(exchange, prepared, status, wrong, result.usage, output_tokens=answer_tokens(body))
            body = orjson.dumps(out)
            if prepared.names is not None:  # the upstream's answer has the target's tool names: not the app's
                result.parsed = None
        result.response = Response(status=status, body=body, headers=relayed)
        return result


def _answered(
    exchange: Exchange, wire: Dialect, status: int, parsed: dict[str, Any], trace: AttemptTrace
) -> AttemptResult:
    """A whole answer's result: what it says of itself (model, id) and its usage, or, when no stage reads
    that before the answer is out (``Exchange.usage_after_answer``; an answer relayed in its own dialect),
    its usage left to be read then, for the call's telemetry ``trace`` too (``usage_later``)."""
    result = AttemptResult(_SUCCESS, upstream_status=status, parsed=parsed)
    if exchange.usage_after_answer and wire is exchange.facts.dialect:
        result.usage_later = trace
    else:
        result.usage = extract_usage(wire, parsed)
    result.response_model = _str(parsed.get("model") or parsed.get("modelVersion"))
    result.response_id = _str(parsed.get("id") or parsed.get("responseId"))
    return result


def _body_failed(
    exchange: Exchange, prepared: Prepared, response: UpstreamResponse | None, outcome: Outcome
) -> AttemptResult:
    """A call that failed with ``outcome`` (raised); charged (``_billed``) when a whole answer's 2xx head
    had come (its body broke off or timed out; a stream's failures are the relay's)."""
    if response is not None and 200 <= response.status < 300 and not exchange.facts.stream:
        return _billed(exchange, prepared, response.status, outcome, output_tokens=answer_tokens(*_body_came(response)))
    return AttemptResult(outcome)


def _body_came(response: UpstreamResponse) -> tuple[bytes, int | None]:
    """The part of a whole answer's body that came before it failed, and the length its head announced
    (None: none, or a compressed body's, which is not the length of the bytes read)."""
    length = response.headers.get("content-length", "")
    identity = response.headers.get("content-encoding", "identity").strip().lower() == "identity"
    return b"".join(response.received), int(length) if identity and length.isdigit() else None


def _billed(
    exchange: Exchange,
    prepared: Prepared,
    status: int,
    outcome: Outcome,
    usage: Usage | None = None,
    output_tokens: int = 0,
) -> AttemptResult:
    """A 2xx answer (``status``) that failed with ``outcome``: the provider accepted the call, so its cost
    is the request's (``billed.charge_failed``: ``usage``, what it reported, else the prompt estimate; its
    output at least ``output_tokens``, its text estimated)."""
    charge_failed(exchange, prepared.target, outcome.error_type, usage, output_tokens)
    return AttemptResult(outcome, upstream_status=status)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
