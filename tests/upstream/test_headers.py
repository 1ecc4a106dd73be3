"""Which headers cross, each way, as plain calls: hop-by-hop ones and what Connection names never do."""

from __future__ import annotations

from sidecar.dialects import Dialect
from sidecar.upstream import relay_headers, upstream_headers

from .conftest import provider

PROVIDER = provider("https://api.openai.com/v1")


def test_connection_names_are_dropped_in_any_case() -> None:
    """Headers listed in Connection (several values, any case) are not forwarded; other headers are."""
    app = {"Connection": "Keep-Alive, X-Hop", "connection": "x-other", "X-HOP": "1", "x-other": "2", "x-end": "3"}
    sent = upstream_headers(app, PROVIDER, Dialect.OPENAI, Dialect.OPENAI, None)
    assert "x-hop" not in sent and "x-other" not in sent and "connection" not in sent
    assert sent["x-end"] == "3"


def test_connection_cannot_remove_what_the_sidecar_sets() -> None:
    """An app naming authorization or content-type in Connection still gets the provider's key and type sent."""
    app = {"connection": "authorization, content-type", "authorization": "Bearer app-key"}
    sent = upstream_headers(app, PROVIDER, Dialect.OPENAI, Dialect.OPENAI, "sk-provider")
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
    assert relay_headers(upstream) == {"X-Request-Id": "req-1"}


def test_a_field_on_several_lines_reaches_the_app_whole() -> None:
    """Two ``Link`` lines (or any repeated field) reach the app joined into one field, not cut to the last."""
    upstream = [("Link", "<a>; rel=next"), ("x-multi", "one"), ("Link", "<b>; rel=last"), ("x-multi", "two")]
    assert relay_headers(upstream) == {"Link": "<a>; rel=next, <b>; rel=last", "x-multi": "one, two"}


def test_a_value_that_is_not_utf8_is_left_out_and_utf8_passes() -> None:
    """A value whose bytes are not UTF-8 (aiohttp's client reads ``\\xe9`` as the escape ``\\udce9``) is left
    out, not relayed to be written cut short; a UTF-8 value with non-ASCII characters passes as it is."""
    upstream = [("x-request-id", "req_caf\udce9"), ("x-note", "café"), ("x-plain", "ok")]
    assert relay_headers(upstream) == {"x-note": "café", "x-plain": "ok"}
