"""Reading a provider's "wait this long" hint from a rate-limited (or overloaded) response.

``parse_reset_hint`` returns the number of seconds to wait, or None. Sources, first valid one wins:

1. ``retry-after-ms``: milliseconds (the Stainless SDKs read it first).
2. ``retry-after``: delta-seconds (``"20"``, ``"1.5"``) or an HTTP-date.
3. OpenAI ``x-ratelimit-reset-requests`` / ``x-ratelimit-reset-tokens``: Go-style durations
   (``"6m0s"``, ``"1s"``, ``"20ms"``, ``"1h2m3.5s"``).
4. Anthropic ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset``: RFC 3339 times.
5. Gemini body: ``error.details[]`` entry whose ``@type`` ends in ``google.rpc.RetryInfo``, with
   ``retryDelay`` as a protobuf JSON duration (``"37s"``, ``"0.5s"``).

For the per-resource families (3 and 4) the rule is: if some resource reports
``...-remaining-<resource>: 0``, the answer is the latest reset among those exhausted resources; otherwise
(no remaining header says 0) the latest reset among all of them. Waiting for the latest is the
conservative choice: every limit we know to be exhausted has refilled by then.

A value that is unparseable, negative, not finite or above ``max_s`` (default one day) is ignored and
the search goes on to the next source. An HTTP-date or RFC 3339 time is converted with ``now_wall``
(``time.time()``), so the caller's wall clock is the only clock involved. Nothing here raises.
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sidecar.dialects.errors import error_object
from sidecar.resilience.signals import parse_json_body

MAX_HINT_S = 86_400.0
"""Hints above this (one day) are treated as garbage."""

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")

_OPENAI_RESOURCES = ("requests", "tokens")
_ANTHROPIC_RESOURCES = ("requests", "tokens", "input-tokens", "output-tokens")


def normalize_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A plain dict with lower-case names; for repeated names (a multidict) the first value wins."""
    out: dict[str, str] = {}
    try:
        for name, value in headers.items():
            out.setdefault(str(name).lower(), str(value))
    except Exception:
        return {}
    return out


def parse_go_duration(text: str) -> float | None:
    """Seconds in a Go-style duration (``"1h2m3.5s"``, ``"20ms"``); a bare number is seconds."""
    text = text.strip()
    if not text:
        return None
    if _PLAIN_NUMBER.fullmatch(text):
        return float(text)
    total, pos = 0.0, 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            return None
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        pos = match.end()
    return total


def parse_proto_duration(value: Any) -> float | None:
    """Seconds in a protobuf JSON ``Duration`` (``"37s"``, ``"0.5s"``) or ``{"seconds", "nanos"}``."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("s") and _PLAIN_NUMBER.fullmatch(text[:-1]):
            return float(text[:-1])
        return None
    if isinstance(value, Mapping):
        seconds, nanos = value.get("seconds", 0), value.get("nanos", 0)
        try:
            return float(seconds) + float(nanos) / 1e9
        except (TypeError, ValueError):
            return None
    return None


def _valid(seconds: float | None, max_s: float) -> float | None:
    if seconds is None or not math.isfinite(seconds) or seconds < 0 or seconds > max_s:
        return None
    return seconds


def _http_date_delta(text: str, now_wall: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now_wall


def _rfc3339_delta(text: str, now_wall: float) -> float | None:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now_wall


def _retry_after(value: str, now_wall: float) -> float | None:
    text = value.strip()
    if _PLAIN_NUMBER.fullmatch(text):
        return float(text)
    return _http_date_delta(text, now_wall)


def _per_resource(resets: dict[str, float], remaining: dict[str, str]) -> float | None:
    """The latest reset among exhausted resources, or among all when none is known to be exhausted."""
    if not resets:
        return None
    exhausted = [v for r, v in resets.items() if remaining.get(r, "").strip() in ("0", "0.0")]
    return max(exhausted) if exhausted else max(resets.values())


def _openai_hint(h: Mapping[str, str], max_s: float) -> float | None:
    resets: dict[str, float] = {}
    remaining: dict[str, str] = {}
    for res in _OPENAI_RESOURCES:
        raw = h.get(f"x-ratelimit-reset-{res}")
        seconds = _valid(parse_go_duration(raw), max_s) if raw is not None else None
        if seconds is not None:
            resets[res] = seconds
            remaining[res] = h.get(f"x-ratelimit-remaining-{res}", "")
    return _per_resource(resets, remaining)


def _anthropic_hint(h: Mapping[str, str], now_wall: float, max_s: float) -> float | None:
    resets: dict[str, float] = {}
    remaining: dict[str, str] = {}
    for res in _ANTHROPIC_RESOURCES:
        raw = h.get(f"anthropic-ratelimit-{res}-reset")
        seconds = _valid(_rfc3339_delta(raw, now_wall), max_s) if raw is not None else None
        if seconds is not None:
            resets[res] = seconds
            remaining[res] = h.get(f"anthropic-ratelimit-{res}-remaining", "")
    return _per_resource(resets, remaining)


def gemini_retry_delay(error: Mapping[str, Any] | None) -> float | None:
    """``retryDelay`` of the first ``google.rpc.RetryInfo`` in ``error.details`` (unvalidated)."""
    details = error.get("details") if error is not None else None
    if not isinstance(details, list):
        return None
    for item in details:
        if isinstance(item, Mapping) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            return parse_proto_duration(item.get("retryDelay"))
    return None


def parse_reset_hint(
    headers: Mapping[str, str],
    body: bytes | Mapping[str, Any] | None,
    now_wall: float,
    *,
    max_s: float = MAX_HINT_S,
) -> float | None:
    """Seconds to wait before the target accepts us again, or None when it gave no usable hint."""
    h = normalize_headers(headers)
    raw = h.get("retry-after-ms")
    if raw is not None and _PLAIN_NUMBER.fullmatch(raw.strip()):
        found = _valid(float(raw.strip()) / 1000.0, max_s)
        if found is not None:
            return found
    raw = h.get("retry-after")
    if raw is not None:
        found = _valid(_retry_after(raw, now_wall), max_s)
        if found is not None:
            return found
    found = _openai_hint(h, max_s)
    if found is not None:
        return found
    found = _anthropic_hint(h, now_wall, max_s)
    if found is not None:
        return found
    return _valid(gemini_retry_delay(error_object(parse_json_body(body))), max_s)
