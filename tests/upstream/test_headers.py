"""Which headers cross, each way, as plain calls: hop-by-hop ones and what Connection names never do; and
a filter that remembers each name's verdict gives, call after call, what a fresh one gives."""

from __future__ import annotations

import random
import string
from collections.abc import Mapping

from multidict import CIMultiDict, istr

from sidecar.dialects import Dialect
from sidecar.upstream import RelayHeaders, UpstreamHeaders
from sidecar.upstream.headers import NAMES_REMEMBERED

from .conftest import provider

PROVIDER = provider("https://api.openai.com/v1")


def same_dialect(upstream_filter: UpstreamHeaders, app: Mapping[str, str]) -> dict[str, str]:
    """What ``upstream_filter`` sends an OpenAI upstream for an OpenAI app's headers ``app`` (no key)."""
    return upstream_filter(app, PROVIDER, Dialect.OPENAI, Dialect.OPENAI, None)


def test_connection_names_are_dropped_in_any_case() -> None:
    """Headers listed in Connection (several values, any case) are not forwarded; other headers are."""
    app = {"Connection": "Keep-Alive, X-Hop", "connection": "x-other", "X-HOP": "1", "x-other": "2", "x-end": "3"}
    sent = UpstreamHeaders()(app, PROVIDER, Dialect.OPENAI, Dialect.OPENAI, None)
    assert "x-hop" not in sent and "x-other" not in sent and "connection" not in sent
    assert sent["x-end"] == "3"


def test_connection_cannot_remove_what_the_sidecar_sets() -> None:
    """An app naming authorization or content-type in Connection still gets the provider's key and type sent."""
    app = {"connection": "authorization, content-type", "authorization": "Bearer app-key"}
    sent = UpstreamHeaders()(app, PROVIDER, Dialect.OPENAI, Dialect.OPENAI, "sk-provider")
    assert sent["authorization"] == "Bearer sk-provider" and sent["content-type"] == "application/json"


def test_the_upstreams_connection_names_are_not_relayed() -> None:
    """A provider's Connection names, Proxy-* and x-sidecar-* headers stay away from the app; names keep their case."""
    upstream = [
        ("Connection", "keep-alive, X-Secret"),
        ("X-Secret", "1"),
        ("Proxy-Status", "cache"),
        ("X-Sidecar-Provider", "spoofed"),
        ("X-Request-Id", "req-1"),
    ]
    assert RelayHeaders()(upstream) == {"X-Request-Id": "req-1"}


def test_a_field_on_several_lines_reaches_the_app_whole() -> None:
    """Two ``Link`` lines (or any repeated field) reach the app joined into one field, not cut to the last."""
    upstream = [("Link", "<a>; rel=next"), ("x-multi", "one"), ("Link", "<b>; rel=last"), ("x-multi", "two")]
    assert RelayHeaders()(upstream) == {"Link": "<a>; rel=next, <b>; rel=last", "x-multi": "one, two"}


def test_a_name_seen_in_one_case_then_another_is_judged_the_same() -> None:
    """A name remembered as sent in one case (``X-Trace``, ``Authorization``) and then met in another gets
    the same verdict: kept under the same lower-case name upstream, dropped alike; the relay keeps each
    answer's own spelling."""
    upstream_filter, relay = UpstreamHeaders(), RelayHeaders()
    for spelling in ("X-Trace", "x-trace", "X-TRACE", istr("x-Trace")):
        for auth in ("Authorization", "authorization", "AUTHORIZATION"):
            sent = same_dialect(upstream_filter, {spelling: "t", auth: "Bearer app"})
            assert sent == {"x-trace": "t", "content-type": "application/json"}, (spelling, auth)
        for cookie in ("Set-Cookie", "set-cookie", "SET-COOKIE"):
            assert relay([(spelling, "t"), (cookie, "a=b")]) == {spelling: "t"}, (spelling, cookie)


def test_a_name_that_connection_listed_once_is_forwarded_when_it_does_not() -> None:
    """A header that one request's ``Connection`` named (so dropped) is forwarded by the next request that
    does not name it, and dropped again by one that does: what ``Connection`` lists is per message, not
    remembered with the name; the same both ways."""
    upstream_filter, relay = UpstreamHeaders(), RelayHeaders()
    for spelling in ("X-Hop", "x-hop"):
        messages = [
            ({spelling: "1", "Connection": "x-hop"}, False),
            ({spelling: "1"}, True),
            ({"Connection": "close, X-HOP", spelling: "1"}, False),
            ({spelling: "1", "Connection": "keep-alive"}, True),
        ]
        for app, forwarded in messages:
            sent = same_dialect(upstream_filter, app)
            assert sent == ({"x-hop": "1"} if forwarded else {}) | {"content-type": "application/json"}, app
            relayed = relay(list(app.items()))
            assert relayed == ({spelling: "1"} if forwarded else {}), app


def test_the_protocol_headers_of_a_crossed_dialect_are_judged_apart() -> None:
    """One filter, requests from an Anthropic SDK: ``anthropic-beta`` reaches an Anthropic upstream, not an
    OpenAI one, in either order; an OpenAI app's ``anthropic-beta`` reaches its own dialect's upstream."""
    upstream_filter = UpstreamHeaders()
    app = {"anthropic-beta": "tools", "x-stainless-helper": "1", "x-kept": "1"}

    def sent(caller: Dialect, wire: Dialect) -> set[str]:
        return set(upstream_filter(app, PROVIDER, caller, wire, None))

    for _ in range(2):
        assert sent(Dialect.ANTHROPIC, Dialect.OPENAI) == {"x-kept", "content-type"}
        assert {"anthropic-beta", "x-stainless-helper"} <= sent(Dialect.ANTHROPIC, Dialect.ANTHROPIC)
        assert {"anthropic-beta", "x-stainless-helper"} <= sent(Dialect.OPENAI, Dialect.OPENAI)
        assert sent(Dialect.ANTHROPIC, Dialect.GEMINI) == {"x-kept", "content-type"}


def random_names(count: int, seed: int) -> list[str]:
    """``count`` header names never seen before, some of which the rules drop (``x-sidecar-*``, ``proxy-*``)."""
    rng = random.Random(seed)
    prefixes = ("x-", "X-Sidecar-", "proxy-", "")
    return [rng.choice(prefixes) + "".join(rng.choices(string.ascii_letters, k=12)) for _ in range(count)]


def expected_upstream(names: list[str]) -> dict[str, str]:
    return {name.lower(): "v" for name in names if not name.lower().startswith(("x-sidecar-", "proxy-"))}


def test_random_names_past_the_cap_are_filtered_right_and_not_remembered() -> None:
    """An app and a provider sending ever new header names: past ``NAMES_REMEMBERED`` names each filter
    remembers no more (its memory stays bounded), and every name, new or known, still gets its verdict:
    ``x-sidecar-*`` and ``proxy-*`` dropped, the rest kept (lower-case upstream, as sent to the app), and
    the names it met first after the cap (``Authorization``, ``Set-Cookie``) dropped."""
    upstream_filter, relay = UpstreamHeaders(), RelayHeaders()
    for batch in range(8):
        names = random_names(100, batch)
        sent = same_dialect(upstream_filter, CIMultiDict((name, "v") for name in names))
        assert sent == {**expected_upstream(names), "content-type": "application/json"}
        relayed = relay([(name, "v") for name in names])
        assert relayed == {name: "v" for name in names if not name.lower().startswith(("x-sidecar-", "proxy-"))}
    assert upstream_filter.remembered() == relay.remembered() == NAMES_REMEMBERED
    sent = same_dialect(upstream_filter, {"Authorization": "Bearer app", "X-New": "1"})
    assert sent == {"x-new": "1", "content-type": "application/json"}
    assert relay([("Set-Cookie", "a=b"), ("X-New", "1")]) == {"X-New": "1"}
    assert upstream_filter.remembered() == relay.remembered() == NAMES_REMEMBERED


def test_a_value_that_is_not_utf8_is_left_out_and_utf8_passes() -> None:
    """A value whose bytes are not UTF-8 (aiohttp's client reads ``\\xe9`` as the escape ``\\udce9``) is left
    out, not relayed to be written cut short; a UTF-8 value with non-ASCII characters passes as it is."""
    upstream = [("x-request-id", "req_caf\udce9"), ("x-note", "café"), ("x-plain", "ok")]
    assert RelayHeaders()(upstream) == {"x-note": "café", "x-plain": "ok"}
