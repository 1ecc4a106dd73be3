"""Fault specs: the grammar, its parser, and how the faults chosen for a request combine into a plan.

Grammar (the value of the ``x-fake-fault`` header, of a ``[fault:...]`` prompt marker, or of ``--fault``)::

    list   := item ("," item)*
    item   := [server ":"] spec           server: only the fake server with that --name applies it
    spec   := kind ["=" value] (";" option "=" value)*

Kinds, in two groups. *Outcomes* decide what the response is (the first one in a list wins):

    status=N        answer HTTP N (200..599) in the dialect's error shape (a bare ``N`` too)
    overloaded      the dialect's overload: OpenAI 503, Anthropic 529 overloaded_error, Gemini 503
    quota           quota gone: OpenAI 429 insufficient_quota, Anthropic 402 billing_error,
                    Gemini 429 RESOURCE_EXHAUSTED per-day quota
    context         context overflow 400 (options tokens=N, max=M)
    reset           close the TCP connection without a response
    reset-body      send the headers and half of the body, then close
    malformed[=K]   200 with invalid JSON (streams: event K is invalid JSON; default 0)
    empty           200 whose answer holds nothing: OpenAI choices [], Anthropic content [], Gemini
                    candidates [] (unstreamed answers only)
    cut=K           streams: close after K events, no terminator
    error-event=K   streams: after K events send the dialect's in-stream error event

*Modifiers* add delays and combine with an outcome and with each other:

    stall=S         sleep S seconds before sending anything
    slow-ttft=MS    this request's time to first token
    stall-mid=K     streams: pause after K events (option for=S, default 1 s)

Options for error answers (status, overloaded, quota, context): ``hint=`` which retry hint to send
(``all``, ``none``, ``retry-after``, ``retry-after-ms``, ``reset``, ``retry-info``, several joined by
``+``; default ``all`` for status=429 and ``none`` otherwise), ``after=S`` the hinted delay (default 1 s),
``should-retry=true|false`` the ``x-should-retry`` header. Every kind takes ``times=N``: apply it only
to the first N requests that match it on this server (counted per spec text, cleared by /_fake/reset).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class FaultKind(enum.StrEnum):
    STATUS = "status"
    OVERLOADED = "overloaded"
    QUOTA = "quota"
    CONTEXT = "context"
    RESET = "reset"
    RESET_BODY = "reset-body"
    MALFORMED = "malformed"
    EMPTY = "empty"
    CUT = "cut"
    ERROR_EVENT = "error-event"
    STALL = "stall"
    SLOW_TTFT = "slow-ttft"
    STALL_MID = "stall-mid"


HINTS = frozenset({"all", "none", "retry-after", "retry-after-ms", "reset", "retry-info"})
ERROR_KINDS = frozenset({FaultKind.STATUS, FaultKind.OVERLOADED, FaultKind.QUOTA, FaultKind.CONTEXT})
_MODIFIERS = frozenset({FaultKind.STALL, FaultKind.SLOW_TTFT, FaultKind.STALL_MID})
_ERROR_OPTIONS = frozenset({"hint", "after", "should-retry"})


@dataclass(frozen=True)
class _Rule:
    value: str  # "none", "int", "float"
    required: bool = False
    default: float = 0.0
    options: frozenset[str] = frozenset()


_RULES: Mapping[FaultKind, _Rule] = {
    FaultKind.STATUS: _Rule("int", required=True, options=_ERROR_OPTIONS),
    FaultKind.OVERLOADED: _Rule("none", options=_ERROR_OPTIONS),
    FaultKind.QUOTA: _Rule("none", options=_ERROR_OPTIONS),
    FaultKind.CONTEXT: _Rule("none", options=_ERROR_OPTIONS | {"tokens", "max"}),
    FaultKind.RESET: _Rule("none"),
    FaultKind.RESET_BODY: _Rule("none"),
    FaultKind.MALFORMED: _Rule("int"),
    FaultKind.EMPTY: _Rule("none"),
    FaultKind.CUT: _Rule("int", required=True),
    FaultKind.ERROR_EVENT: _Rule("int", required=True),
    FaultKind.STALL: _Rule("float", required=True),
    FaultKind.SLOW_TTFT: _Rule("float", required=True),
    FaultKind.STALL_MID: _Rule("int", required=True, options=frozenset({"for"})),
}


@dataclass(frozen=True)
class Fault:
    """One parsed item. ``value`` is the kind's number (status, seconds, events, ms; 0 when it has none)."""

    kind: FaultKind
    value: float
    key: str  # canonical spec text without the server name: the `times` counter key
    target: str | None = None
    times: int | None = None
    hints: frozenset[str] | None = None
    after_s: float = 1.0
    should_retry: bool | None = None
    tokens: int | None = None
    max_tokens: int | None = None
    for_s: float = 1.0

    @property
    def count(self) -> int:
        """``value`` as an event count or status code."""
        return int(self.value)


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request: delays from modifiers and at most one outcome."""

    stall_s: float = 0.0
    ttft_ms: float | None = None
    stall_mid: Fault | None = None
    outcome: Fault | None = None


NO_FAULTS = FaultPlan()
_MARKER = re.compile(r"\[fault:([^\]\"\\]*)\]")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def parse_faults(text: str) -> tuple[Fault, ...]:
    """Parse a comma-separated list of items; ``ValueError`` names the bad item."""
    return tuple(_parse_item(item.strip()) for item in text.split(",") if item.strip())


def markers(body: str) -> tuple[Fault, ...]:
    """Faults from every ``[fault:...]`` marker in a request body."""
    return tuple(fault for match in _MARKER.finditer(body) for fault in parse_faults(match.group(1)))


def for_server(faults: Iterable[Fault], name: str) -> list[Fault]:
    """The faults a server called ``name`` applies: those without a target or targeting it."""
    return [fault for fault in faults if fault.target is None or fault.target == name]


def compose(faults: Iterable[Fault]) -> FaultPlan:
    """Combine faults into a plan; for each slot (stall, ttft, stall-mid, outcome) the first wins."""
    stall_s: float | None = None
    ttft_ms: float | None = None
    stall_mid: Fault | None = None
    outcome: Fault | None = None
    for fault in faults:
        if fault.kind is FaultKind.STALL and stall_s is None:
            stall_s = fault.value
        elif fault.kind is FaultKind.SLOW_TTFT and ttft_ms is None:
            ttft_ms = fault.value
        elif fault.kind is FaultKind.STALL_MID and stall_mid is None:
            stall_mid = fault
        elif fault.kind not in _MODIFIERS and outcome is None:
            outcome = fault
    return FaultPlan(stall_s=stall_s or 0.0, ttft_ms=ttft_ms, stall_mid=stall_mid, outcome=outcome)


def _parse_item(item: str) -> Fault:
    target: str | None = None
    spec = item
    head, sep, rest = item.partition(":")
    if sep:
        if not _NAME.match(head):
            raise ValueError(f"{item!r}: bad server name {head!r}")
        target, spec = head, rest.strip()
    first, *option_parts = (part.strip() for part in spec.split(";"))
    kind_text, has_value, value_text = (part.strip() for part in first.partition("="))
    if kind_text.isdigit():
        kind_text, has_value, value_text = "status", "=", kind_text
    try:
        kind = FaultKind(kind_text)
    except ValueError:
        known = ", ".join(kind.value for kind in FaultKind)
        raise ValueError(f"{item!r}: unknown fault kind {kind_text!r} (known: {known})") from None
    rule = _RULES[kind]
    value = _value(item, kind, rule, value_text if has_value else None)
    options: dict[str, str] = {}
    for part in option_parts:
        if not part:
            continue
        name, eq, text = (piece.strip() for piece in part.partition("="))
        if not eq or not text:
            raise ValueError(f"{item!r}: option {part!r} needs a value (name=value)")
        if name != "times" and name not in rule.options:
            raise ValueError(f"{item!r}: {kind} takes no option {name!r}")
        options[name] = text
    return _build(item, kind, value, value_text if has_value else "", options, target)


def _value(item: str, kind: FaultKind, rule: _Rule, text: str | None) -> float:
    if text is None or text == "":
        if rule.required:
            raise ValueError(f"{item!r}: {kind} needs a value ({kind}=...)")
        return rule.default
    if rule.value == "none":
        raise ValueError(f"{item!r}: {kind} takes no value")
    number = _number(item, kind.value, text, integer=rule.value == "int")
    if kind is FaultKind.STATUS and not 200 <= number <= 599:  # 1xx is not a final answer
        raise ValueError(f"{item!r}: status must be 200..599")
    return number


def _number(item: str, name: str, text: str, *, integer: bool) -> float:
    try:
        number = int(text) if integer else float(text)
    except ValueError:
        wanted = "an integer" if integer else "a number"
        raise ValueError(f"{item!r}: {name} must be {wanted}, got {text!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{item!r}: {name} must be >= 0")
    return number


def _build(
    item: str, kind: FaultKind, value: float, value_text: str, options: dict[str, str], target: str | None
) -> Fault:
    hints: frozenset[str] | None = None
    if "hint" in options:
        hints = frozenset(options["hint"].split("+"))
        if not hints <= HINTS:
            raise ValueError(f"{item!r}: hint must be among {', '.join(sorted(HINTS))}")
    should_retry: bool | None = None
    if "should-retry" in options:
        if options["should-retry"] not in ("true", "false"):
            raise ValueError(f"{item!r}: should-retry must be true or false")
        should_retry = options["should-retry"] == "true"

    def num(name: str, *, integer: bool) -> float | None:
        return _number(item, name, options[name], integer=integer) if name in options else None

    after_s = num("after", integer=False)
    for_s = num("for", integer=False)
    times = num("times", integer=True)
    tokens = num("tokens", integer=True)
    max_tokens = num("max", integer=True)
    head = f"{kind}={value_text}" if value_text else str(kind)
    key = ";".join([head, *(f"{name}={options[name]}" for name in sorted(options))])
    return Fault(
        kind=kind,
        value=value,
        key=key,
        target=target,
        times=None if times is None else int(times),
        hints=hints,
        after_s=1.0 if after_s is None else after_s,
        should_retry=should_retry,
        tokens=None if tokens is None else int(tokens),
        max_tokens=None if max_tokens is None else int(max_tokens),
        for_s=1.0 if for_s is None else for_s,
    )
