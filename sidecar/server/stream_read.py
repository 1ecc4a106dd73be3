"""An upstream stream's events read whole, for the relay (``stream``): each judged (an error, not JSON:
parsed before the commit point, after it only when its data does not begin with ``{`` and end with ``}``,
when it gave a listener nothing, or when the policy validates every event; usage, the end), its caller's
bytes made (as it came, a usage-only event left out, or translated by a ``StreamTranslator``), its deltas
kept for whoever listens.

A same-dialect stream's usage is read from each event that carries it, unless its dialect's events carry
the totals so far (``Translation.stream_usage_key``: Gemini's, on every fragment): then the events (or
reads of whole events, ``keep_usage``) whose bytes hold the key are kept unread, and only the last of
them that holds usage is read, at the stream's end, clean, failed or cut (``read_seen``;
``stream_totals.KeptTotals``: a function call's arguments may hold the key). A stream (relayed or
translated) of a model priced per web search is read by ``read_searching``, chosen once per stream
(``Target.searches_priced``, decided at load), which hands the events that may show a search to the
dialect's tally (``Translation.stream_searches``: Anthropic's ``web_search`` blocks, OpenAI Responses'
``web_search_call`` items, a search model's chat citations, Gemini's grounding queries); its count is
merged into the usage at the stream's end (``read_seen``; a failed or cut stream's, ``with_searches``):
a stream cut before the event that reports its searches is charged the searches it ran.

``EventReader`` holds what stays the same from a stream's first event to its last: the upstream's
``WireDialect``, the translator (None: the same dialect), the listeners (the stages' taps, a held
stream) and, when someone listens, the answer's deltas not yet shown to them (``deltas``); ``read`` is
one event. ``stream_ends.StreamEnds`` adds the ends that are not clean, ``stream._Relay`` the reads,
the commit point and the clean end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from ..dialects import registry
from ..resilience.classify import Outcome, classify_stream_event
from ..sse import SSEEvent
from ..translate import StreamTranslator, decode_event, new_stream_translator
from ..translate.bundles import SearchTally
from ..translate.common import Usage
from ..translate.deltas import Delta
from .key_redaction import event_without_key
from .stream_error import StreamFailed
from .stream_totals import KeptTotals

if TYPE_CHECKING:
    from .attempt import AttemptResult
    from .exchange import Exchange
    from .hooks import StreamTap
    from .prepared import Prepared

_NOT_JSON = Outcome.failure("malformed_response", "upstream sent an event that is not JSON")


class EventReader:
    """What stays the same for one stream's events, and the reading of one (``read``)."""

    __slots__ = (
        "decoder",
        "deltas",
        "exchange",
        "hold",
        "kept",
        "key",
        "operation",
        "prepared",
        "relay_text",
        "result",
        "searches",
        "skim",
        "strip_usage",
        "taps",
        "translator",
        "upstream",
        "usage_key",
    )

    def __init__(self, exchange: Exchange, prepared: Prepared, key: str | None, result: AttemptResult) -> None:
        """``key``: the provider key the call sent, redacted from any error event (``key_redaction``);
        ``result``: the attempt's, whose usage a same-dialect stream's events add to."""
        self.exchange = exchange
        self.prepared = prepared
        self.key = key
        self.result = result
        # the upstream's stream ends as the operation its target is called for says (a translated
        # Responses request's: the target's chat), not as the caller's operation would
        self.operation = prepared.operation
        self.upstream = upstream = registry.wire(prepared.wire)
        self.translator = translator = _translator(exchange, prepared)
        self.taps = taps = exchange.taps
        self.hold = hold = exchange.hold_stream
        listened = bool(taps) or hold is not None
        self.decoder = upstream.translation.decoder() if listened and translator is None else None
        self.deltas: list[Delta] | None = [] if listened else None  # the answer's deltas not yet shown to taps
        self.strip_usage = translator is None and not prepared.include_usage
        # A same-dialect stream whose events carry the totals so far (Gemini's) keeps the events (or reads
        # of whole events) whose bytes hold usage's key, unread; the last with usage is read at the stream's
        # end (``read_seen``), not each; at ``KEEP_BYTES`` they are cut to the last with usage
        self.usage_key = upstream.translation.stream_usage_key if translator is None else None
        self.kept = KeptTotals(upstream.translation.stream_usage)
        # A stream of a model priced per web search counts the searches its events show (``read_searching``),
        # which a cut may leave its usage without; decided at load (``Target.searches_priced``): another
        # model's events cost nothing more
        tally = upstream.translation.stream_searches if prepared.target.searches_priced else None
        self.searches: SearchTally | None = tally(self.operation) if tally is not None else None
        # After the commit point an event whose data begins and ends as a JSON object passes unparsed,
        # unless the policy asks every event parsed (``defaults.streams.validate_events``)
        route = exchange.route
        self.skim = route is None or not route.settings.validate_stream_events
        # A translated stream that nobody taps turns a plain text delta (the usual event) into the caller's
        # bytes directly: no error, usage or end in such an event, nothing to keep, so nothing else to judge.
        self.relay_text = translator.relay_text if translator is not None and not listened else None

    def read(self, event: SSEEvent, out: list[bytes], skim: bool, ended: bool) -> bool:
        """Judge an event read whole (an error, not JSON, usage) and add its caller's bytes to ``out``;
        whether the stream has ended (``ended``: it had before this event). ``skim``: an event whose data
        begins and ends as a JSON object is not parsed to see whether it is JSON (after the commit point)."""
        if event.event == "error" or event.data.find(b'"error"') >= 0:
            event = self._raise_on_error(event)
        upstream, translator = self.upstream, self.translator
        # Before the commit point every event is parsed; after it, only one whose data does not begin and
        # end as a JSON object does (a cut event, a line of text): a good event costs two byte comparisons.
        data = event.data
        if (not skim or data[-1:] != b"}" or data[:1] != b"{") and upstream.is_malformed(event):
            raise StreamFailed(_NOT_JSON)
        # usage / usageMetadata (a translated stream's is the translator's: ``read_seen``)
        if translator is None and event.data.find(b"sage") >= 0:
            if self.usage_key is None:
                self._add_usage(event)
            elif event.data.find(self.usage_key) >= 0:
                self.kept.keep(event, len(data))
        if upstream.is_terminal(self.operation, event):
            ended = True
        if translator is not None:
            self._translate(translator, event, out, ended)
        else:
            if self.decoder is not None and self.deltas is not None:
                decoded = decode_event(self.decoder, event)
                if not decoded and skim and upstream.is_malformed(event):  # parsed already, found nothing
                    raise StreamFailed(_NOT_JSON)
                self.deltas += decoded
            if not (self.strip_usage and upstream.is_usage_only(event)):
                out.append(event.raw)
        return ended

    def read_searching(self, event: SSEEvent, out: list[bytes], skim: bool, ended: bool) -> bool:
        """``read``, for a stream that counts the web searches its events show (``searches``: the relay
        reads with this one instead, chosen once per stream); ``read_seen`` merges the count."""
        searches = self.searches
        if searches is not None and event.data.find(searches.key) >= 0:
            searches.see(event.data)
        return self.read(event, out, skim, ended)

    def with_searches(self, usage: Usage | None) -> Usage | None:
        """``usage`` with the web searches the stream's events showed (``read_searching``), the larger of
        the two counts; usage of the searches alone when the provider counted nothing yet (a failed or cut
        stream's: ``billed.used_so_far`` adds the prompt estimate and the text sent)."""
        searches = self.searches
        count = searches.count() if searches is not None else 0
        if not count:
            return usage
        seen = Usage(web_search_calls=count)
        return seen if usage is None else usage.merge(seen)

    def _raise_on_error(self, event: SSEEvent) -> SSEEvent:
        """``event`` without the provider key; raises ``StreamFailed`` when it is the upstream's error."""
        event = event_without_key(event, self.key)
        failure = classify_stream_event(self.prepared.wire, event.event, event.data)
        if failure is not None:
            raise StreamFailed(failure, event)
        return event

    def _add_usage(self, event: SSEEvent) -> None:
        usage = self.upstream.translation.stream_usage(event, self.result.usage)
        if usage is not None:
            self.result.usage = usage

    def keep_usage(self, chunk: bytes) -> bool:
        """Whether a read of whole events that may carry usage can be relayed as it came, unread
        (``stream._relay_committed``): when its dialect's events carry the totals so far (``usage_key``);
        it is then kept, unread, when its bytes hold the key (``read_seen``)."""
        key = self.usage_key
        if key is None:
            return False
        if chunk.find(key) >= 0:
            self.kept.keep(chunk, len(chunk))
        return True

    def read_seen(self) -> None:
        """What the stream's events said, read at its end (clean, failed or cut): a translated stream's
        usage, finish reason and id as its translator saw them; a same-dialect stream's usage from the last
        event kept unread that holds it (``usage_key``; of a read of several events, the last of them with
        usage), and the web searches its events showed (``read_searching``) when it has usage (a stream
        without any is charged its reservation; a failed or cut one, ``with_searches``)."""
        result, translator = self.result, self.translator
        if translator is not None:
            result.usage = translator.usage or result.usage
            if translator.finish_reason:
                result.finish_reasons = [translator.finish_reason]
            result.response_id = translator.response_id
        usage = self.kept.usage(result.usage)
        if usage is not None:
            result.usage = usage
        if self.searches is not None and result.usage is not None:
            result.usage = self.with_searches(result.usage)

    def _translate(self, translator: StreamTranslator, event: SSEEvent, out: list[bytes], ended: bool) -> None:
        decoded = translator.decode(event)
        if not decoded and self.upstream.is_malformed(event):  # the caller's SDK raises, as its own would
            raise StreamFailed(_NOT_JSON)
        if self.deltas is not None:
            self.deltas += decoded
        out.extend(caller_event.encode() for caller_event in translator.encode(decoded))
        if ended:
            out.extend(e.encode() for e in translator.finish())


def _translator(exchange: Exchange, prepared: Prepared) -> StreamTranslator | None:
    """The translator from the upstream's dialect to the caller's; None when they are the same."""
    caller = exchange.facts.dialect
    if prepared.wire is caller:
        return None
    return new_stream_translator(
        source=prepared.wire,
        target=caller,
        operation=exchange.facts.operation,
        model=prepared.target.upstream_model,
        include_usage=prepared.include_usage,
        names=prepared.names,
        request=exchange.facts.body,
    )


def show_deltas(taps: tuple[StreamTap, ...], deltas: list[Delta]) -> None:
    """Feed ``deltas`` to the taps, in order; then forget them."""
    for delta in deltas:
        for tap in taps:
            tap.feed(delta)
    deltas.clear()


def events_are_json(chunk: bytes) -> bool:
    """Whether every event of ``chunk`` (whole events, the last one's data ending in ``}``) is one ``data:``
    line holding a JSON object, checked in one orjson call (``defaults.streams.validate_events``, for a read
    the relay forwards as it came): the data lines joined by ``\\n,`` into one JSON array must read as one
    object per event. The line end in the joint keeps an event's broken string from running into the
    next one; counting the values, one event holding two objects (``{...},{...}``) from passing. False
    also for any other shape (an ``event:`` line, a comment, CRLF): the relay reads those events one by one."""
    if chunk[:6] != b"data: ":
        return False
    try:
        values = orjson.loads(b"[" + chunk[6:].replace(b"\n\ndata: ", b"\n,") + b"]")
    except orjson.JSONDecodeError:
        return False
    count = len(values)
    if count != chunk.count(b"\n\n"):
        return False
    return type(values[0]) is dict if count == 1 else all(type(value) is dict for value in values)
