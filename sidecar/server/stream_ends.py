"""The ends of a relayed stream that did not end cleanly, for the relay (``stream``): a failure (an
``Outcome`` for the fallback loop before the commit point, an error event in the caller's dialect after
it) and a cut (the app left or the drain cut the stream): what the provider is charged for each, and
what the caller gets.

``StreamEnds`` is ``stream_read.EventReader`` with these two ends; ``stream._Relay`` builds on it with
the reads, the commit point and the clean end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp.web import StreamResponse

from ..resilience.classify import Outcome, TimeoutPhase, classify_exception
from ..translate import StreamBroken
from .billed import charge_failed, relayed_tokens, streamed_tokens, used_so_far
from .stream_error import StreamFailed, broken, end_with_error
from .stream_read import EventReader

if TYPE_CHECKING:
    from ..upstream import UpstreamResponse
    from .attempt import AttemptResult


class StreamEnds(EventReader):
    """An event reader with the ends of a stream that failed or was cut."""

    __slots__ = ()
    response: UpstreamResponse  # the upstream's answer, the relay's (``stream._Relay``)

    async def failed(
        self,
        exc: Exception,
        client: StreamResponse | None,
        before: list[bytes],
        explain: Callable[[Outcome], Outcome],
        sent: tuple[list[bytes], int],
    ) -> AttemptResult:
        """The stream failed (``exc``): before the commit point, an ``Outcome`` for the fallback loop; after
        it, the caller's stream ends with an error event after ``before`` (``end_with_error``), its usage
        what the provider counted, with the web searches its events showed (``with_searches``: a cut before
        the event that reports them), the output at least the text sent (``sent``: the first bytes sent,
        and ``exchange.bytes_out`` when the stream started); ``explain`` gives a timeout its words."""
        if isinstance(exc, StreamFailed):
            failed = exc
        elif isinstance(exc, StreamBroken):  # the caller's encoder could not carry the answer on
            failed = broken(exc, before)
        else:  # a bare timeout is the first-content deadline before the commit, aiohttp's total after it;
            # a ValueError: an event larger than the parser accepts, or an answer the client refused
            phase: TimeoutPhase = "first_byte" if client is None else "total"
            failed = StreamFailed(explain(classify_exception(exc, timeout_phase=phase)))
        if client is None:  # the caller saw nothing: the fallback loop goes on; the provider may bill it
            from .attempt import AttemptResult

            result = self.result
            self.read_seen()
            output = streamed_tokens(self.exchange, before)
            used = self.with_searches(result.usage)  # the searches its events showed: billed, as its tokens
            charge_failed(self.exchange, self.prepared.target, failed.outcome.error_type, used, output)
            # an error event that stands for an HTTP error (``classify_stream_event``: an overload as 529)
            # is kept as that error's body: a one-target route answers it as the provider's error
            # (``last_resort``, ``target_tries.error_status``), as it would the same error sent as a status
            event = failed.event
            body = event.data if event is not None and (failed.outcome.status or 0) >= 400 else b""
            return AttemptResult(failed.outcome, upstream_status=self.response.status, upstream_body=body)
        result = self.result
        output = relayed_tokens(self.exchange, *sent, before)
        await end_with_error(self.exchange, client, failed, self.translator, result, before)
        self.read_seen()
        result.usage = used_so_far(self.exchange, self.with_searches(result.usage), output)
        for tap in self.taps:
            tap.close(False)
        result.response = client
        return result

    def cut(self, sent: list[bytes], sent_from: int, held: list[bytes]) -> None:
        """The app went away, or the drain cut the stream, after its commit point or while it was held
        (``held``): what the provider counted so far and the web searches its events showed, its output at
        least the text sent or held, estimated (``billed.used_so_far``), priced as this target, for the
        access line and the budgets."""
        result = self.result
        self.read_seen()
        output = relayed_tokens(self.exchange, sent, sent_from, held)
        used = used_so_far(self.exchange, self.with_searches(result.usage), output)
        self.exchange.cut_use = (used, self.prepared.target)
