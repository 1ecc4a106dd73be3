"""parse_reset_hint: every header form, Gemini RetryInfo, precedence, and garbage tolerance."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, MultiDict

from sidecar.resilience.ratelimit import MAX_HINT_S, parse_go_duration, parse_reset_hint

NOW = 1_750_000_000.0  # a fixed wall-clock time


def rfc3339(offset_s: float) -> str:
    return datetime.fromtimestamp(NOW + offset_s, UTC).isoformat().replace("+00:00", "Z")


def gemini_429(retry_delay: object) -> dict[str, object]:
    return {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay},
            ],
        }
    }


def test_retry_after_ms() -> None:
    """retry-after-ms is milliseconds."""
    assert parse_reset_hint({"retry-after-ms": "1500"}, None, NOW) == 1.5


@pytest.mark.parametrize(("value", "expected"), [("20", 20.0), ("1.5", 1.5), ("0", 0.0)])
def test_retry_after_seconds(value: str, expected: float) -> None:
    """retry-after as delta-seconds, integer or fractional."""
    assert parse_reset_hint({"retry-after": value}, None, NOW) == expected


def test_retry_after_http_date() -> None:
    """retry-after as an HTTP-date is converted with the caller's wall clock."""
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert parse_reset_hint({"retry-after": date}, None, NOW) == pytest.approx(30.0)


def test_retry_after_date_in_the_past_is_ignored() -> None:
    """A date already past gives a negative wait, which is ignored."""
    date = email.utils.formatdate(NOW - 30, usegmt=True)
    assert parse_reset_hint({"retry-after": date}, None, NOW) is None


def test_header_names_are_case_insensitive() -> None:
    """Header names match whatever their case, in a plain dict."""
    assert parse_reset_hint({"Retry-After": "7"}, None, NOW) == 7.0


def test_accepts_a_multidict_and_takes_the_first_value() -> None:
    """A multidict (aiohttp's headers) works; for a repeated header the first value wins."""
    headers = MultiDict([("Retry-After", "3"), ("retry-after", "9")])
    assert parse_reset_hint(headers, None, NOW) == 3.0
    assert parse_reset_hint(CIMultiDict({"RETRY-AFTER-MS": "250"}), None, NOW) == 0.25


def test_retry_after_ms_wins_over_retry_after() -> None:
    """retry-after-ms is read before retry-after."""
    assert parse_reset_hint({"retry-after": "20", "retry-after-ms": "500"}, None, NOW) == 0.5


def test_invalid_first_source_falls_through_to_the_next() -> None:
    """An unparseable retry-after-ms does not hide a valid retry-after."""
    assert parse_reset_hint({"retry-after-ms": "soon", "retry-after": "4"}, None, NOW) == 4.0


@pytest.mark.parametrize("value", ["-5", "nan", "inf", "later", "", str(MAX_HINT_S * 2)])
def test_negative_garbage_or_absurd_retry_after_is_ignored(value: str) -> None:
    """Negative, non-numeric, infinite and absurdly large values give no hint."""
    assert parse_reset_hint({"retry-after": value}, None, NOW) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6m0s", 360.0),
        ("1s", 1.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("0.5s", 0.5),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("150us", 0.00015),
        ("7", 7.0),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    """OpenAI reset durations (Go style) in every unit combination."""
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "1x", "abc", "1m 2s", "-1s", "1s2"])
def test_bad_go_durations(text: str) -> None:
    """Malformed durations give None rather than a wrong number."""
    assert parse_go_duration(text) is None


def test_openai_exhausted_resource_reset_wins() -> None:
    """With remaining-requests 0, the requests reset is the hint even if the tokens reset is longer."""
    headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-remaining-tokens": "5000",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    assert parse_reset_hint(headers, None, NOW) == 1.0


def test_openai_without_exhausted_resource_takes_the_max() -> None:
    """When no remaining header says 0, the later of the two resets is the hint."""
    headers = {
        "x-ratelimit-remaining-requests": "3",
        "x-ratelimit-reset-requests": "2s",
        "x-ratelimit-reset-tokens": "20ms",
    }
    assert parse_reset_hint(headers, None, NOW) == 2.0


def test_openai_both_exhausted_takes_the_max() -> None:
    """Both resources at 0: wait for the later reset."""
    headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "1m30s",
    }
    assert parse_reset_hint(headers, None, NOW) == 90.0


def test_anthropic_rfc3339_reset() -> None:
    """Anthropic reset headers are RFC 3339 times; the exhausted resource's reset is the hint."""
    headers = {
        "anthropic-ratelimit-requests-remaining": "12",
        "anthropic-ratelimit-requests-reset": rfc3339(50),
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": rfc3339(12),
        "anthropic-ratelimit-output-tokens-reset": rfc3339(3),
    }
    assert parse_reset_hint(headers, None, NOW) == pytest.approx(12.0)


def test_anthropic_offset_timestamp_without_remaining_takes_the_max() -> None:
    """An explicit +00:00 offset is accepted; without remaining headers the latest reset wins."""
    headers = {
        "anthropic-ratelimit-tokens-reset": datetime.fromtimestamp(NOW + 8, UTC).isoformat(),
        "anthropic-ratelimit-requests-reset": rfc3339(2),
    }
    assert parse_reset_hint(headers, None, NOW) == pytest.approx(8.0)


def test_anthropic_reset_in_the_past_is_ignored() -> None:
    """A reset time already past is not a hint."""
    assert parse_reset_hint({"anthropic-ratelimit-requests-reset": rfc3339(-5)}, None, NOW) is None


def test_retry_after_wins_over_provider_headers() -> None:
    """retry-after is read before the per-resource reset headers."""
    headers = {"retry-after": "5", "anthropic-ratelimit-requests-reset": rfc3339(60)}
    assert parse_reset_hint(headers, None, NOW) == 5.0


@pytest.mark.parametrize(("delay", "seconds"), [("37s", 37.0), ("0.5s", 0.5), ({"seconds": 2, "nanos": 5e8}, 2.5)])
def test_gemini_retry_info_in_bytes_body(delay: object, seconds: float) -> None:
    """Gemini's RetryInfo.retryDelay in the error details, string or {seconds, nanos} form."""
    assert parse_reset_hint({}, orjson.dumps(gemini_429(delay)), NOW) == seconds


def test_gemini_retry_info_in_parsed_body() -> None:
    """An already-parsed body (a dict) works too."""
    assert parse_reset_hint({}, gemini_429("3s"), NOW) == 3.0


def test_gemini_list_wrapped_body() -> None:
    """A streamGenerateContent error arrives as a one-element JSON array."""
    assert parse_reset_hint({}, orjson.dumps([gemini_429("4s")]), NOW) == 4.0


def test_headers_win_over_gemini_body() -> None:
    """A retry-after header is read before the body."""
    assert parse_reset_hint({"retry-after": "1"}, gemini_429("37s"), NOW) == 1.0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>502 Bad Gateway</html>",
        b'{"error": "nope"}',
        b'{"error": {"details": "x"}}',
        b'{"error": {"details": [1, null, {"@type": 5}]}}',
        orjson.dumps(gemini_429("-3s")),
        orjson.dumps(gemini_429("soon")),
        b"\xff\xfe",
    ],
)
def test_garbage_bodies_give_no_hint(body: bytes) -> None:
    """Bodies that are not JSON, or carry no valid RetryInfo, give None and never raise."""
    assert parse_reset_hint({}, body, NOW) is None


@settings(deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "retry-after",
                "retry-after-ms",
                "x-ratelimit-reset-tokens",
                "x-ratelimit-remaining-tokens",
                "anthropic-ratelimit-tokens-reset",
                "x-other",
            ]
        ),
        st.text(max_size=40),
    ),
    body=st.one_of(st.none(), st.binary(max_size=200)),
)
def test_never_raises_and_stays_in_range(headers: dict[str, str], body: bytes | None) -> None:
    """For any header values and bytes, the result is None or a finite number in [0, MAX_HINT_S]."""
    hint = parse_reset_hint(headers, body, NOW)
    assert hint is None or 0.0 <= hint <= MAX_HINT_S
