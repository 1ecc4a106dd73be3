"""What answers when every target of the chain has failed: the route's ``last_resort``.

- ``error`` (default): a 401 (Gemini: 403, ``NO_KEY_ANSWERS``) when every target was skipped for a key
  the app should have sent (``passthrough``) and did not; with a one-target route, the failure itself
  (the upstream's 4xx/5xx error passed through; 502 for a connection failure, a broken answer or a
  1xx/3xx, whose ``Location`` the app's SDK would follow; 504 for a timeout); with a chain, 503.
  Either way in the caller's dialect, with ``Retry-After`` (a passed-through error only when a later
  try may succeed: ``RETRY_LATER`` or 5xx) and a body listing every attempt; and with
  ``x-should-retry: false`` once a target was called and the last failure is not a rate limit
  (``_tried``): the sidecar did the retrying, the app's SDK would run the chain again. A route that
  cannot retry (one target, ``max_attempts_per_target: 1``, no hedge: ``_leaves_retries_to_the_sdk``)
  leaves them to the app's SDK instead: the provider's error goes as it came (its own ``Retry-After``
  and ``x-should-retry``), the sidecar's own 502/504 without ``x-should-retry``.
- ``static``: a canned answer, built in the common form as a normal completion of the caller's dialect
  (the dialect's own id shape, zero usage; streamed when the caller streams, as a cache hit is:
  ``replay.response_stream_bytes``, OpenAI's usage chunk when asked), marked ``x-sidecar-degraded: static``.
- ``cache``: the response cache's entry for this request, past its TTL but within the route's
  ``stale_s`` (stale-if-error, RFC 5861), served marked ``x-sidecar-cache: stale`` and
  ``x-sidecar-degraded: cache`` (``cache_stage`` sets ``exchange.stale_answer``); without one (the
  route does not cache, the request is not cacheable, no entry) it behaves as ``error`` and says so in
  ``x-sidecar-degraded: cache-unavailable``.

The sidecar's headers come from ``answer_headers`` (``exchange.degraded`` says which last resort answered).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import orjson
from aiohttp.web import Response, StreamResponse

from ..dialects import CHAT_OPERATIONS, Dialect
from ..resilience.classify import OutcomeKind
from ..translate import build_chat_response
from ..translate.common import ChatResponse, FinishReason, Usage
from .calls import UNCALLABLE
from .errors import RequestFailed, retry_headers
from .replay import asks_usage, response_stream_bytes
from .stream_answer import send_stream

# Statuses below 500 whose request may succeed when sent again later (the official SDKs retry these and
# 5xx, reading Retry-After): only these carry the last resort's Retry-After; a 400 or 401 does not.
RETRY_LATER = frozenset({408, 409, 429})

NO_KEY_ANSWERS: Mapping[Dialect, tuple[int, Mapping[str, str]]] = {
    Dialect.OPENAI: (401, {"type": "invalid_request_error"}),
    Dialect.GEMINI: (403, {}),
}
"""The status (and the words over the dialect's own for it) of the answer to an app that sent no key to
targets passing its key through, as its provider answers a request without one: OpenAI 401
``invalid_request_error`` ("You didn't provide an API key..."), Gemini 403 ``PERMISSION_DENIED`` ("Method
doesn't allow unregistered callers..."), any other dialect 401 (Anthropic's ``authentication_error``, "x-api-key
header is required"). The SDKs raise their error of that status: ``AuthenticationError``, google-genai's
``ClientError``."""


def no_key(dialect: Dialect, message: str, **extra: object) -> RequestFailed:
    """The answer to an app that sent no key a provider passing its key through needs (``NO_KEY_ANSWERS``),
    ``extra`` in its error body (a chain's ``attempts``); a passthrough's too (``server.forward``)."""
    status, words = NO_KEY_ANSWERS.get(dialect, (401, {}))
    return RequestFailed(
        status, message, code="missing_api_key", headers={"x-should-retry": "false"}, extra={**words, **extra}
    )


if TYPE_CHECKING:
    from .attempt import AttemptResult
    from .calls import Candidate
    from .exchange import Exchange


async def answer_last_resort(exchange: Exchange, last: tuple[Candidate, AttemptResult] | None) -> StreamResponse:
    """The route's last resort, after ``last`` (the last failure, if a call was made)."""
    assert exchange.route is not None
    spec = exchange.route.settings.resilience.last_resort
    assert spec is not None
    if spec.kind == "static" and spec.static is not None:
        return await _static_answer(exchange, spec.static.text)
    if spec.kind == "cache":
        stale = await exchange.stale_answer(exchange) if exchange.stale_answer is not None else None
        if stale is not None:
            return stale
        exchange.degraded = "cache-unavailable"
    attempts = [a.as_dict() for a in exchange.attempts]
    retry_after = spec.retry_after_s
    if last is not None and last[1].outcome.retry_after_s:
        retry_after = max(retry_after, last[1].outcome.retry_after_s)
    sdk_retries = _leaves_retries_to_the_sdk(exchange)
    headers = retry_headers(max(1, round(retry_after)), again=sdk_retries or not _tried(exchange, last))
    if exchange.gate_failure is not None:  # answers came, none passed the route's quality gates
        raise RequestFailed(
            502,
            f"{exchange.gate_failure}; no answer of route {exchange.route.name!r} passed its quality gates "
            f"({', '.join(exchange.gate_rejections)} rejected)",
            code="quality_gate_failed",
            headers=headers,
            extra={"attempts": attempts},
        )
    if len(exchange.route.chain) == 1 and last is not None:
        candidate, result = last
        from .target_tries import error_passthrough, error_status

        # An error's body passes (an error event of a stream as the status it stands for); a redirect (or
        # another 1xx/3xx) never does: the app's SDK would follow its Location to wherever the provider
        # points, with the request and the app's headers.
        if result.outcome.kind is not OutcomeKind.SUCCESS and error_status(result) >= 400:
            response = error_passthrough(exchange, candidate.prepared.wire, result)
            if not sdk_retries:  # else as the provider sent it: the app's SDK retries as it would the provider
                _say_when_to_retry(response, headers, retry_after)
            return response
        outcome = result.outcome
        raise RequestFailed(
            outcome.gateway_status,
            f"upstream {candidate.target.name} failed: {outcome.described}",
            code=outcome.error_type,
            headers=headers,
            extra={"attempts": attempts},
        )
    if _app_sent_no_usable_key(exchange):
        raise no_key(
            exchange.facts.dialect,
            f"route {exchange.route.name!r} passes the app's API key through to its providers, and this request "
            f"sent none that can be passed on ({'; '.join(a.detail for a in exchange.attempts)})",
            attempts=attempts,
        )
    called = [a for a in exchange.attempts if a.called]
    summary = ", ".join(a.describe() for a in exchange.attempts) or "no target available"
    what = "failed" if called else "could be called now"  # every one skipped: none failed
    raise RequestFailed(
        503,
        f"{'every' if called else 'no'} target of route {exchange.route.name!r} {what} ({summary})",
        code="all_targets_failed" if called else "no_target_available",
        headers=headers,
        extra={"attempts": attempts},
    )


def _say_when_to_retry(response: Response, headers: dict[str, str], retry_after: float) -> None:
    """The last resort's ``headers`` on a passed-through upstream error a later try may answer; on one it
    will not (a 400 the provider marked ``x-should-retry: true``), only ``x-should-retry: false``."""
    if response.status in RETRY_LATER or response.status >= 500:
        response.headers.update(headers)  # over the upstream's own x-should-retry, when it sent one
        if "retry-after-ms" in response.headers:  # SDKs read it first: the same wait, not the upstream's
            response.headers["retry-after-ms"] = str(round(retry_after * 1000))
    elif _says_retry(response) and "x-should-retry" in headers:
        response.headers["x-should-retry"] = "false"  # no Retry-After: a 400 will not succeed later


def _says_retry(response: Response) -> bool:
    """Whether the provider's error says ``x-should-retry: true``: the route retried it already (any 4xx
    with it is a FALLBACK), so passed on as sent it would make the app's SDK run the route twice more
    (the OpenAI and Anthropic SDKs, Python and Node, obey it before the status)."""
    return response.headers.get("x-should-retry", "").strip().lower() == "true"


def _leaves_retries_to_the_sdk(exchange: Exchange) -> bool:
    """Whether the route cannot retry: one target, one attempt, no hedge (a policy that leaves retries to
    the app's SDK, docs/resilience.md). Its error then does not say ``x-should-retry: false``: the sidecar
    did no retrying the SDK's would repeat."""
    assert exchange.route is not None
    resilience = exchange.route.settings.resilience
    return len(exchange.route.chain) == 1 and resilience.max_attempts_per_target == 1 and resilience.hedge is None


def _app_sent_no_usable_key(exchange: Exchange) -> bool:
    """Whether every target was skipped for want of a key, and each of those keys is the app's own
    (``passthrough``: none sent, or one that cannot be passed on): the caller's fault, answered as its
    provider would answer a request without a key (401), not as a sidecar without targets (503)."""
    attempts, providers = exchange.attempts, exchange.policy.providers
    if not attempts:
        return False
    for attempt in attempts:
        if attempt.called or attempt.outcome != "credentials":
            return False
        provider = providers.get(attempt.provider)
        if provider is None or provider.api_key is None or not provider.api_key.passthrough:
            return False
    return True


def _tried(exchange: Exchange, last: tuple[Candidate, AttemptResult] | None) -> bool:
    """Whether the sidecar has done the retrying for this request: it called its targets (retried them
    and fell back, within their retry budgets and the deadline) and the last failure is not a rate limit
    (whose wait, the provider's, the app's SDK may still wait out; a quota gone is not one), or no target
    could be called for want of a key or a ``tls`` file (``credentials``, ``tls_config``: a later try finds
    none either). Its error then says
    ``x-should-retry: false``: the SDK's own retries (two, by default) would run the chain twice more."""
    if not any(attempt.called for attempt in exchange.attempts):
        # every target skipped (a full bulkhead...): a later try may find room; not a file that cannot be read
        return bool(exchange.attempts) and all(attempt.outcome in UNCALLABLE for attempt in exchange.attempts)
    return last is None or last[1].outcome.error_type != "rate_limited"


async def _static_answer(exchange: Exchange, text: str) -> StreamResponse:
    facts = exchange.facts
    caller = facts.dialect
    model = facts.model or "degraded"
    exchange.degraded = "static"
    if facts.operation not in CHAT_OPERATIONS:
        raise RequestFailed(503, "every target failed and a static answer fits only chat", code="all_targets_failed")
    answer: ChatResponse = {
        "id": None,  # each dialect's builder and encoder give a fresh id of its own shape
        "choices": [
            {"parts": [{"type": "text", "text": text}], "finish_reason": FinishReason.STOP, "stop_sequence": None}
        ],
        "usage": Usage(),  # no tokens were spent
    }
    if not facts.stream:
        return Response(body=orjson.dumps(build_chat_response(answer, caller, model)), content_type="application/json")
    data = response_stream_bytes(answer, caller, model=model, include_usage=asks_usage(facts.body))
    return await send_stream(exchange, data)
