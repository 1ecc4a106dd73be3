"""What calls the provider may bill cost the request when their answer did not come whole: the calls whose
answer the caller did not get (the request's unserved cost), and a stream cut after its commit point.

Three kinds of unserved calls: calls that failed after the provider accepted them (``charge_failed``),
calls cut while in flight by the sidecar itself (``charge_cut``: a hedged race's loser, an ensemble member
cancelled once the vote was decided, a judge past the route's deadline), whose prompt was sent and may be
billed, and answers a gate rejected whose provider reported no usage (``charge_unreported``: estimated).

A call the provider answered with a 2xx status and whose answer then failed (a stream cut, timed out or
ended with an error event before its commit point, so the fallback loop could move on and the caller never
saw it; a whole answer cut or timed out after its head, not JSON, not an answer, of the wrong shape) was
accepted: the provider ran its prompt and may bill it, with the output it sent. ``charge_failed`` adds
that call's cost, at its own model's price, to the request's unserved cost and tokens
(``Exchange.unserved_cost_usd``, ``unserved_tokens``): the budgets charge them, the access line's
``cost_usd`` and ``llm_sidecar_cost_usd_total`` count them, as they do a hedged race's cut call (``hedge``)
and a gate's rejected answer. ``Exchange.billed_failures`` names the call (``target:error_type``) for the
access line; ``billed_targets`` reads the targets back from those names.

What is charged: the input the provider already counted in the usage events it sent, else the prompt
estimate (``budgets.estimate``); the output it counted or the text it sent, estimated
(``routing.tokens``), whichever is larger. A whole answer that could not be read was generated whole,
and billed so: its output is the text of the JSON string values in the bytes that came
(``answer_tokens``: a body cut midway scaled up to the length its head announced), estimated. An
estimate of output is capped at the request's own output maximum (``used_so_far``).

The same rule counts the answer the caller did get when its stream stopped after the commit point (the
upstream cut it, timed out or sent an error; the app went away; the drain cut it): ``used_so_far``, its
output estimated by ``relayed_tokens`` from the first bytes the relay sent (``SENT_SAMPLE_BYTES``, kept
as sent and decoded only then), scaled to every byte sent: the relay does not decode a stream nobody taps.

A call without a 2xx answer is not charged: an error status (429, 5xx, 4xx) is a refusal, which no
provider bills and which reports no tokens; a connection refused or reset before any answer gives no
proof the request reached the provider, and charging it would count every outage's calls as spend.

But a call whose head did not come in time (the first-byte deadline, or the head's ``idle_s``) after its
request was written to a connection (``upstream.request_sent``: not one still waiting for a connection
or being connected) may have been accepted, and the provider may be generating its answer:
``charge_unanswered`` charges it as the most it may cost, its prompt estimate and, for a whole answer
(which the provider generates whole, read or not), the output maximum (the request's own, times the
answers it asks for; else the model's ``max_output_tokens``, else the budgets'
``default_max_output_tokens``, else ``DEFAULT_MAX_OUTPUT_TOKENS``): what its reservation held. A stream's
provider stops when the connection closes: its prompt alone, as a caller's cancel is charged.

A served answer whose provider reported no usage is charged its reservation by the budgets
(``reserved_use``: its prompt estimate and output maximum) at the reservation's prices: the access line
prices it so too (``reserved_cost_usd``, by ``cost.estimate_usd``, the budgets' one pricing of an estimate).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import orjson
from aiohttp.web import Response, StreamResponse

from ..answers import AnswerView, answer_of_body, answer_of_deltas
from ..budgets.estimate import asks_hour_writes, estimate_request, priced_asks, reservation_tokens
from ..budgets.spec import DEFAULT_MAX_OUTPUT_TOKENS
from ..cost import cost_usd, estimate_usd
from ..dialects import Operation, registry
from ..routing.tokens import estimate_joined, estimate_tokens
from ..sse import SSEParser
from ..translate import Usage, decode_event
from ..translate.deltas import Reasoning, Text, ToolArgs
from .stream_answer import HeldStream

_STRING_DELTA = re.compile(rb'"delta":\s*"((?:[^"\\]|\\.)*)"')  # a Responses API event's text
_JSON_STRING_VALUE = re.compile(rb':\s*"((?:[^"\\]|\\.)*)')  # a value's text, to its end or the body's

SENT_SAMPLE_BYTES = 65_536
"""How much of a stream the relay keeps, as sent, to estimate its output if it is cut (``relayed_tokens``)."""

if TYPE_CHECKING:
    from ..policy.compiled import Target
    from .exchange import Exchange


def charge_failed(
    exchange: Exchange, target: Target, error_type: str, usage: Usage | None = None, output_tokens: int = 0
) -> None:
    """Add the cost of ``target``'s call, accepted and then failed with ``error_type``, to the request's
    unserved cost and tokens; ``usage``: what the provider counted before it failed (None: nothing),
    ``output_tokens``: the estimated tokens of the text it sent."""
    _charge(exchange, target, usage, output_tokens)
    exchange.billed_failures = (*exchange.billed_failures, f"{target.name}:{error_type}")


def billed_targets(names: tuple[str, ...]) -> set[str]:
    """The targets of the billed failures named ``target:error_type`` (``Exchange.billed_failures``)."""
    return {name.rsplit(":", 1)[0] for name in names}


def charge_unanswered(exchange: Exchange, target: Target, error_type: str) -> None:
    """Add the cost of ``target``'s call, sent and then timed out before its answer's head (``error_type``),
    to the request's unserved cost and tokens: its prompt estimate, and for a whole answer the output
    maximum (the module docstring); named in ``billed_failures`` as an accepted call is."""
    if exchange.facts.stream:
        use = Usage(estimate_request(exchange.facts, exchange.raw)[0], 0)
    else:
        use = reserved_use(exchange, target)
    add_unserved(exchange, target, use, estimated=True)
    exchange.billed_failures = (*exchange.billed_failures, f"{target.name}:{error_type}")


def reserved_use(exchange: Exchange, target: Target) -> Usage:
    """What a reservation on ``target`` holds for the request, as tokens: its prompt estimate and its
    output maximum (the request's own, times the answers it asks for; else the model's
    ``max_output_tokens``, else the budgets' ``default_max_output_tokens``, else
    ``DEFAULT_MAX_OUTPUT_TOKENS``). The budgets charge it an answer whose provider reported no usage."""
    budgets = exchange.policy.budgets
    default = target.max_output_tokens or (
        budgets.default_max_output_tokens if budgets is not None else DEFAULT_MAX_OUTPUT_TOKENS
    )
    prompt_tokens, most = reservation_tokens(exchange.facts, exchange.raw, default)
    return Usage(prompt_tokens, default if most is None else most)


def reserved_cost_usd(exchange: Exchange, target: Target, use: Usage) -> float | None:
    """What the budgets charge an answer of ``target`` without usage whose reservation held ``use``
    (``reserved_use``), in US dollars: the reservation's dearest prices (``cost.estimate_usd``: cache
    writes, 1-hour writes when the request asks for them, audio, every service tier), not the standard
    ones, and the web searches the request lets run (``estimate.priced_asks``, as its reservation); None
    when the model has no price."""
    if target.price is None:
        return None
    facts, raw, budgets = exchange.facts, exchange.raw, exchange.policy.budgets
    asks = priced_asks(facts, raw, budgets) if budgets is not None else (asks_hour_writes(facts, raw), 0)
    return estimate_usd(target.price, use.input_tokens, use.output_tokens, *asks)


def charge_unreported(exchange: Exchange, target: Target, answer: StreamResponse | HeldStream) -> None:
    """Add the cost of ``target``'s whole ``answer``, which the caller did not get (a gate rejected it) and
    whose provider reported no usage, to the request's unserved cost and tokens: its prompt estimate and
    its text, estimated (the provider billed it whole; a served answer without usage is charged its
    reservation's estimate by the budgets)."""
    view: AnswerView | None
    if isinstance(answer, HeldStream):
        view = answer_of_deltas(answer.deltas)
    else:
        body = answer.body if isinstance(answer, Response) and isinstance(answer.body, bytes) else b""
        view = answer_of_body(body, exchange.facts.dialect)
    _charge(exchange, target, None, estimate_joined([view.content]) if view is not None else 0)


def _charge(exchange: Exchange, target: Target, usage: Usage | None, output_tokens: int) -> None:
    """Add ``usage`` (``used_so_far``) at ``target``'s price to the request's unserved cost and tokens."""
    add_unserved(exchange, target, used_so_far(exchange, usage, output_tokens), estimated=True)


def add_unserved(exchange: Exchange, target: Target, usage: Usage, *, estimated: bool) -> None:
    """Add a call's ``usage`` at ``target``'s price to the request's unserved cost and tokens (every part:
    the access line's token fields sum them as its totals do); ``estimated``: in part the sidecar's."""
    exchange.unserved_cost_usd += cost_usd(target.prices, usage) or 0.0
    exchange.unserved_usage = exchange.unserved_usage.plus(usage)
    exchange.unserved_estimated = exchange.unserved_estimated or estimated


def charge_cut(exchange: Exchange, targets: Iterable[Target]) -> None:
    """Add the prompt estimate of each call cut in flight (one per target of ``targets``), at its target's
    price, to the request's unserved cost and tokens: the provider bills the prompt of a call it received
    (the rule of a caller's cancel, ``budget_use.used_when_cancelled``); its output so far is not known."""
    prompt_tokens = estimate_request(exchange.facts, exchange.raw)[0]
    for target in targets:
        add_unserved(exchange, target, Usage(prompt_tokens, 0), estimated=True)


def streamed_tokens(exchange: Exchange, sent: Iterable[bytes]) -> int:
    """The estimated tokens of the text (answer, reasoning, tool arguments) in ``sent``, a stream's bytes
    in the caller's dialect: decoded here, on the failure's path, so that a stream nobody taps is not
    decoded as it comes; one part at a time (each whole events, as held or sent), never joined: what a
    refused preamble held back is not copied whole again (a role-only chunk, however padded, has no
    text: 0). Events the dialect's chat decoder does not read (the OpenAI Responses API's): the text of
    their string ``delta`` fields (``response.output_text.delta``, its tool arguments')."""
    texts: list[str] = []
    if exchange.facts.operation is Operation.RESPONSES:
        for part in sent:
            texts += _json_texts(_STRING_DELTA.finditer(part))
        return estimate_tokens("".join(texts))
    decoder = registry.wire(exchange.facts.dialect).translation.decoder()
    parser = SSEParser()
    for part in sent:
        for event in parser.feed(part):
            for delta in decode_event(decoder, event):
                if isinstance(delta, (Text, Reasoning)):
                    texts.append(delta.text)
                elif isinstance(delta, ToolArgs):
                    texts.append(delta.fragment)
    return estimate_tokens("".join(texts))  # the pieces of one text: joined as sent, not with spaces


def used_so_far(exchange: Exchange, usage: Usage | None, output_tokens: int) -> Usage:
    """What a call the provider accepted used when it stopped early: ``usage``, what the provider counted
    (None: nothing), its input the prompt estimate when it counted none, its output at least
    ``output_tokens`` (the text it sent, estimated): a provider's counts so far lag what it sent. The
    estimate is never more than the request's own output maximum (times the answers it asks for): the
    provider stops there, and the text of a body that broke off counts its JSON's ids and names too."""
    prompt_tokens, most = reservation_tokens(exchange.facts, exchange.raw, 0)
    if most:
        output_tokens = min(output_tokens, most)
    if usage is None:
        return Usage(prompt_tokens, output_tokens)
    if usage.input_tokens and usage.output_tokens >= output_tokens:
        return usage
    return dataclasses.replace(
        usage,
        input_tokens=usage.input_tokens or prompt_tokens,
        output_tokens=max(usage.output_tokens, output_tokens),
    )


def relayed_tokens(exchange: Exchange, sample: list[bytes], sent_from: int, before: list[bytes]) -> int:
    """The estimated tokens of the text a stream sent to the caller (``exchange.bytes_out`` since
    ``sent_from``, and ``before``, about to be sent), of which ``sample`` are the first bytes
    (``SENT_SAMPLE_BYTES``, kept undecoded by the relay): the sample's text (``streamed_tokens``, decoded
    here, on the cut's path), scaled by the bytes sent over the sample's when the stream sent more (its
    later events are taken to carry as much text per byte)."""
    relayed = exchange.bytes_out - sent_from
    if before:
        relayed += sum(map(len, before))
        sample = [*sample, *before]
    tokens = streamed_tokens(exchange, sample)
    sampled = sum(map(len, sample))
    if relayed > sampled > 0:
        return round(tokens * relayed / sampled)
    return tokens


def answer_tokens(body: bytes, whole_size: int | None = None) -> int:
    """The estimated output tokens of a whole answer the sidecar could not use, of which ``body`` came
    (decoded): the text of its JSON string values (the last one to the body's end when it broke off
    inside it), so that the JSON around them is not counted as text; scaled to ``whole_size`` (the
    length its head announced, uncompressed) when only part of it came. A body without JSON strings
    (not JSON at all) counts 0: nothing in it can be told to be the answer."""
    tokens = estimate_joined(_json_texts(_JSON_STRING_VALUE.finditer(body)))
    if whole_size is not None and whole_size > len(body) > 0:
        return round(tokens * whole_size / len(body))
    return tokens


def _json_texts(matches: Iterable[re.Match[bytes]]) -> list[str]:
    """The texts of JSON strings found by a pattern whose group 1 is a string's inside (escapes read)."""
    texts = []
    for match in matches:
        value = match.group(1)
        try:
            texts.append(orjson.loads(b'"' + value + b'"'))
        except orjson.JSONDecodeError:  # cut inside an escape, or not JSON text
            texts.append(value.decode("utf-8", "replace"))
    return texts
