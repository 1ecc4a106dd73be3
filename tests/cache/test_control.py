"""The app's cache directives (x-sidecar-cache, Cache-Control) and the headers an answer carries."""

from __future__ import annotations

import math

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from sidecar.cache import Control, Directive, client_control, client_directive


@pytest.mark.parametrize(
    ("headers", "directive"),
    [
        ({}, Directive.USE),
        ({"x-sidecar-cache": "bypass"}, Directive.BYPASS),
        ({"x-sidecar-cache": " Refresh "}, Directive.REFRESH),
        ({"cache-control": "no-store"}, Directive.BYPASS),
        ({"cache-control": "max-age=0"}, Directive.REFRESH),
        ({"cache-control": "private, No-Cache"}, Directive.REFRESH),
        ({"cache-control": "no-cache, no-store"}, Directive.BYPASS),
        ({"x-sidecar-cache": "refresh", "cache-control": "no-store"}, Directive.BYPASS),
        ({"cache-control": "max-age=60"}, Directive.USE),
        ({"x-sidecar-cache": "something-else"}, Directive.USE),
        ({"cache-control": 'no-cache="set-cookie"'}, Directive.REFRESH),
        ({"cache-control": 'MAX-AGE = "000"'}, Directive.REFRESH),
        ({"cache-control": "max-age=0060"}, Directive.USE),
        ({"cache-control": "max-age=" + "0" * 5000}, Directive.REFRESH),
        ({"cache-control": "max-age=\u00b2, max-age=\u0660, =, ,,"}, Directive.USE),
        ({"x-sidecar-cache": "Bypass, refresh"}, Directive.BYPASS),
    ],
)
def test_directives(headers: dict[str, str], directive: Directive) -> None:
    """bypass/no-store skip the cache, refresh/no-cache/max-age=0 skip the lookup; bypass wins."""
    assert client_directive(headers, allowed=True) is directive


def test_directives_ignored_when_the_route_forbids_them() -> None:
    """With client_control off the app's headers change nothing."""
    assert client_directive({"x-sidecar-cache": "bypass", "cache-control": "no-store"}, allowed=False) is Directive.USE


def test_every_line_of_a_repeated_header_counts() -> None:
    """From the listener's multidict, a no-store on the second Cache-Control line is honoured."""
    headers = CIMultiDictProxy(CIMultiDict([("cache-control", "max-age=60"), ("cache-control", "no-store")]))
    assert client_directive(headers, allowed=True) is Directive.BYPASS
    refresh = CIMultiDictProxy(CIMultiDict([("x-sidecar-cache", "nothing"), ("x-sidecar-cache", "refresh")]))
    assert client_directive(refresh, allowed=True) is Directive.REFRESH


@pytest.mark.parametrize(
    ("value", "max_age", "min_fresh"),
    [
        ("max-age=5", 5, None),
        ('max-age="5"', 5, None),
        ("MAX-AGE=5", 5, None),
        ("max-age=5, max-age=600", 5, None),
        ("max-age=600, private, max-age=5", 5, None),
        ("max-age=0005", 5, None),
        ("max-age=" + "9" * 40, 2**31, None),
        ("max-age=4294967296", 2**31, None),
        ("min-fresh=30", None, 30),
        ("max-age=60, min-fresh=30", 60, 30),
    ],
)
def test_max_age_and_min_fresh_bound_the_age_the_app_takes(value: str, max_age: int, min_fresh: int | None) -> None:
    """max-age=N and min-fresh=N (RFC 9111 5.2.1.1, 5.2.1.3): delta-seconds, quoted or not, any case,
    repeated the strictest, past 2**31 that; the lookup still happens (USE)."""
    control = client_control({"cache-control": value}, allowed=True)
    assert control == Control(Directive.USE, max_age, min_fresh)


@pytest.mark.parametrize(
    "value",
    [
        "max-age=-5",
        "max-age=x",
        "max-age=",
        "max-age",
        "max-age=5s",
        "max-age=1.5",
        "max-stale=-100",
        "max-stale=5s",
        "min-fresh=-1",
        "max-age=\u00b2",
        "=5, ,,",
        "\x00",
    ],
)
def test_a_bound_that_is_not_delta_seconds_is_ignored(value: str) -> None:
    """Garbage, a negative or fractional number (max-stale's too): no bound at all (never an exception)."""
    assert client_control({"cache-control": value}, allowed=True) == Control(Directive.USE)


@pytest.mark.parametrize(
    ("value", "max_stale"),
    [
        ("max-stale=100", 100),
        ('MAX-STALE="100"', 100),
        ("max-stale", math.inf),
        ("max-stale=", math.inf),
        ("max-stale, max-stale=30", 30),
        ("max-stale=600, max-stale=0030", 30),
        ("max-stale=x, max-stale", math.inf),
        ("max-stale=" + "9" * 400, 2**31),
    ],
)
def test_max_stale_is_read_as_delta_seconds_or_any_staleness_bare(value: str, max_stale: float) -> None:
    """max-stale=N (RFC 9111 5.2.1.2): delta-seconds as max-age's, the strictest of repeated ones; bare
    (or with nothing after ``=``): any staleness."""
    assert client_control({"cache-control": value}, allowed=True) == Control(Directive.USE, None, None, max_stale)


def test_max_stale_does_not_turn_a_refresh_or_a_bypass_into_a_lookup() -> None:
    """no-store, no-cache and max-age=0 win over max-stale."""
    for value, directive in (("max-stale, no-store", Directive.BYPASS), ("max-age=0, max-stale", Directive.REFRESH)):
        assert client_directive({"cache-control": value}, allowed=True) is directive


def test_max_stale_adds_to_the_fresh_life_within_the_stale_window() -> None:
    """oldest_s with max-stale: ttl_s plus N (bare: any), never past ttl_s + stale_s, less min-fresh, and
    max-age bounds it all; no stale window, no staleness."""
    assert Control(Directive.USE, None, None, 30).oldest_s(60, 100) == 90
    assert Control(Directive.USE, None, None, math.inf).oldest_s(60, 100) == 160
    assert Control(Directive.USE, None, None, 300).oldest_s(60, 100) == 160
    assert Control(Directive.USE, None, None, math.inf).oldest_s(60) == 60
    assert Control(Directive.USE, None, 20, 30).oldest_s(60, 100) == 70
    assert Control(Directive.USE, 75, None, math.inf).oldest_s(60, 100) == 75


def test_the_oldest_entry_taken_is_the_strictest_bound() -> None:
    """oldest_s: ttl_s without bounds (None), max-age, ttl_s - min-fresh, or the smaller of both."""
    assert Control(Directive.USE).oldest_s(60) is None
    assert Control(Directive.USE, 5).oldest_s(60) == 5
    assert Control(Directive.USE, None, 50).oldest_s(60) == 10
    assert Control(Directive.USE, 30, 40).oldest_s(60) == 20
    assert Control(Directive.USE, 100).oldest_s(60) == 60
