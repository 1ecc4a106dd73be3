"""The series a request's end and an upstream call's end update, held together per label set.

A plain request updates about a dozen metric series: at its end its count, duration, tokens and cost
(``request_end``); at its call's end the call's duration, count and tokens (``attempt``). Looked up one
by one, each update builds a label tuple and finds its series in a dict by it (a counter twice: a get
and a set). Here the series one kind of request (route, served model, outcome, status class) or of
call (target, GenAI labels, response model, error type) updates are found once, the first time that
kind ends, and held in a ``RequestSeries`` / ``CallSeries``; later ones of that kind find the holder by
one tuple and add to the series it holds (a counter's one-element list, a histogram's ``Series``).

What ``/metrics`` and the OTLP push show is unchanged: a series still appears at its first update (those
a request of a kind may not update, its tokens and cost, are looked up at their first update, not when
the holder is made), and a holder exists only for a label set whose series exist; so the holders are
bounded as the series are (docs/observability.md, "Metrics"), one per label set of
``llm_sidecar_requests_total`` and of ``gen_ai_client_operation_duration_seconds`` by target, and a
reload keeps them as it keeps the series.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .genai import Tokens
    from .instruments import Instruments
    from .metrics import Series

STATUS_CLASSES: Final = tuple(f"{n}xx" for n in range(10))


class RequestSeries:
    """The series a request's end updates, for one route, served model, outcome and status class."""

    __slots__ = ("_cached", "_cost", "_count", "_duration", "_input", "_ins", "_model", "_output", "_route")

    def __init__(self, ins: Instruments, route: str, model: str, outcome: str, status_class: str) -> None:
        self._ins = ins
        self._route = route
        self._model = model
        self._count = ins.requests.cell((route, model, outcome, status_class))
        self._duration = ins.request_duration.series((route, outcome))
        # tokens and cost: at their first update (a request of this kind may report none)
        self._input: list[float] | None = None
        self._output: list[float] | None = None
        self._cached: list[float] | None = None
        self._cost: list[float] | None = None

    def record(self, usage: Tokens | None, cost_usd: float | None, elapsed: float) -> None:
        """One request: its count and duration, its tokens (those it reported, not 0) and its cost."""
        self._count[0] += 1
        self._duration.observe(elapsed)
        if usage is not None:
            if usage.input_tokens:
                (self._input or self._tokens("input"))[0] += usage.input_tokens
            if usage.output_tokens:
                (self._output or self._tokens("output"))[0] += usage.output_tokens
            if usage.cached_input_tokens:
                (self._cached or self._tokens("cached_input"))[0] += usage.cached_input_tokens
        if cost_usd:
            cost = self._cost
            if cost is None:
                cost = self._cost = self._ins.cost.cell((self._model, self._route))
            cost[0] += cost_usd

    def _tokens(self, kind: str) -> list[float]:
        cell = self._ins.tokens.cell((self._model, self._route, kind))
        setattr(self, f"_{kind.removesuffix('_input')}", cell)  # _input, _output, _cached
        return cell


class CallSeries:
    """The series an upstream call's end updates, for one target, GenAI labels (operation, provider,
    request model), response model label and error type (``""``: a success)."""

    __slots__ = ("_attempts", "_duration", "_errors", "_input", "_labels", "_output", "_tokens")

    def __init__(
        self, ins: Instruments, target: str, labels: tuple[str, str, str], response_label: str, error_type: str
    ) -> None:
        operation, provider, model = labels
        self._labels = (operation, provider, model, response_label)
        self._duration = ins.genai_duration.series((operation, provider, model, response_label, error_type))
        self._attempts = ins.attempts.cell((target, "error" if error_type else "ok"))
        self._errors = ins.upstream_errors.cell((target, error_type)) if error_type else None
        self._tokens = ins.genai_tokens
        # token histograms: at their first observation (a call of this kind may report no usage)
        self._input: Series | None = None
        self._output: Series | None = None

    def record(self, usage: Tokens | None, elapsed: float) -> None:
        """One call: its duration, its count (and error count), its tokens (those reported, 0 included)."""
        self._duration.observe(elapsed)
        self._attempts[0] += 1
        if self._errors is not None:
            self._errors[0] += 1
        if usage is not None:
            if usage.input_tokens is not None:
                (self._input or self._token_series("input")).observe(usage.input_tokens)
            if usage.output_tokens is not None:
                (self._output or self._token_series("output")).observe(usage.output_tokens)

    def _token_series(self, kind: str) -> Series:
        series = self._tokens.series((*self._labels, kind))
        setattr(self, f"_{kind}", series)
        return series
