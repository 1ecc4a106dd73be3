"""W3C trace context in and out of a request (``telemetry.propagation``), on the OpenTelemetry API alone."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanKind, get_current_span

from sidecar.telemetry.propagation import (
    ROOT,
    app_headers,
    app_trace,
    extract_parent,
    inject,
    unsampled_app,
    unsampled_app_headers,
)

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import openai_client
from ..server.chain import CONNECT
from .helpers import APP_SPAN_ID, APP_TRACE_ID, APP_TRACEPARENT


def test_the_apps_trace_context_is_read_and_passed_on() -> None:
    """extract_parent reads the app's traceparent and tracestate; inject writes them back unchanged."""
    headers: dict[str, str] = {}
    inject(extract_parent({"traceparent": APP_TRACEPARENT, "tracestate": "vendor=abc"}), headers)
    assert headers == {"traceparent": f"00-{APP_TRACE_ID}-{APP_SPAN_ID}-01", "tracestate": "vendor=abc"}


@pytest.mark.parametrize(
    "value",
    [
        "junk",
        f"00-{'0' * 32}-{APP_SPAN_ID}-01",  # all-zero trace id
        f"ff-{APP_TRACE_ID}-{APP_SPAN_ID}-01",  # forbidden version
        f"00-{APP_TRACE_ID}-{APP_SPAN_ID}-01-extra",  # version 00 has nothing after the flags
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(value: str) -> None:
    """An invalid traceparent gives no parent: nothing is propagated from it."""
    headers: dict[str, str] = {}
    inject(extract_parent({"traceparent": value}), headers)
    assert headers == {}


_T, _S = APP_TRACE_ID, APP_SPAN_ID
# Trace context headers an app may send: valid and not, sampled and not, every version, with a tracestate
# well formed, refused by the SDK (an entry out of the W3C format, a key twice) or past its length bound.
APP_CONTEXTS = [
    *(
        {"traceparent": traceparent}
        for traceparent in (
            f"00-{_T}-{_S}-00",
            f"00-{_T}-{_S}-01",
            f"00-{_T}-{_S}-02",
            f"00-{_T}-{_S}-03",
            f"00-{_T}-{_S}-fe",
            f"00-{_T}-{_S}-ff",
            f" \t00-{_T}-{_S}-00 \t",
            f"00-{_T}-{_S}-00\n",
            f"00-{_T}-{_S}-00-",
            f"00-{_T}-{_S}-00-more",
            f"01-{_T}-{_S}-00",
            f"01-{_T}-{_S}-00-more-fields",
            f"01-{_T}-{_S}-01-more",
            f"cc-{_T}-{_S}-02",
            f"ff-{_T}-{_S}-00",
            f"00-{'0' * 32}-{_S}-00",
            f"00-{_T}-{'0' * 16}-00",
            f"00-{_T.upper()}-{_S}-00",
            f"00-{_T}-{_S}-0",
            f"00-{_T}x-{_S}-00",
            f"00_{_T}-{_S}-00",
            f"01-{_T}-{_S}-00-{'x' * 500}",
            "",
            "junk",
        )
    ),
    *(
        {"traceparent": f"00-{_T}-{_S}-{flags}", "tracestate": state}
        for flags in ("00", "01")
        for state in ("vendor=abc", " a=1 , b@x=2,,", "", "no equals", "a=1,a=2", "x=" + "y" * 9000)
    ),
]


@pytest.mark.parametrize("headers", APP_CONTEXTS)
def test_an_unsampled_app_trace_is_passed_on_as_the_sdks_propagator_reads_it(headers: dict[str, str]) -> None:
    """``unsampled_app_headers`` gives exactly what the SDK's propagator reads (``extract_parent``,
    ``unsampled_app``, ``app_headers``) for a valid app trace context that is not sampled, an empty dict
    for one the propagator finds not valid (``ROOT``: a new trace), and None for one that is sampled."""
    parent = extract_parent(headers)
    app = unsampled_app(parent)
    expected = {} if parent is ROOT else None if app is None else app_headers(app, parent, headers)
    assert unsampled_app_headers(headers) == expected


@pytest.mark.parametrize("headers", APP_CONTEXTS)
def test_the_app_trace_is_what_the_sdks_propagator_reads(headers: dict[str, str]) -> None:
    """``app_trace`` reads the app's trace context as the SDK's propagator does: for a valid sampled one the
    parent context ``extract_parent`` gives (a non-recording span of the same span context: ids, remote
    flag, trace flags, trace state; a context of the same keys), ``ROOT`` itself for one not valid, and for
    one not sampled ``app_headers``' answer."""
    _assert_read_as_the_propagator_reads(headers)


def _tracestate(length: int) -> str:
    """A well-formed ``tracestate`` of ``length`` characters: 32 entries (the W3C's most), values of at most
    256 characters (the last one's cut to the length)."""
    entries = [f"k{i:02d}=" + "v" * 256 for i in range(32)]
    text = ",".join(entries)[:length]
    assert len(text) == length and not text.endswith(("=", ","))
    return text


_VERSION_01 = f"01-{_T}-{_S}-"  # a later version may carry fields after its flags: any length up to the bound
# Headers at the edges of the propagator's rules that ``app_trace`` reads by its own constants: the
# traceparent's length bound (512 characters), the tracestate's (8,192), the pattern's blanks and case.
EDGE_CONTEXTS = [
    *(
        {"traceparent": f"{_VERSION_01}{flags}-{'x' * (length - len(_VERSION_01) - 3)}"}
        for flags in ("00", "01")
        for length in (511, 512, 513)
    ),
    *(
        {"traceparent": f"00-{_T}-{_S}-{flags}", "tracestate": _tracestate(length)}
        for flags in ("00", "01")
        for length in (8191, 8192, 8193)
    ),
    {"traceparent": f"\t 00-{_T}-{_S}-00\t \t"},
    {"traceparent": f"00-{_T}-{_S}-00 x"},
    {"traceparent": f"00-{_T}-{_S}-0A"},
    {"traceparent": f"0a-{_T}-{_S}-00"},
    {"traceparent": f"0A-{_T}-{_S}-00"},
    {"traceparent": f"00-{_T}-{_S}-00\n\n"},
    {"traceparent": f"\n00-{_T}-{_S}-00"},
    {"traceparent": f"01-{_T}-{_S}-00\t-x"},
    # the checks the pattern makes while reading: a version not ff, ids not all zero (one digit off: valid)
    {"traceparent": f"ff-{_T}-{_S}-01"},
    {"traceparent": f" \tff-{_T}-{_S}-01"},
    {"traceparent": f"fe-{_T}-{_S}-01"},
    {"traceparent": f"0f-{_T}-{_S}-01"},
    {"traceparent": f"00-{'0' * 31}1-{_S}-01"},
    {"traceparent": f"00-1{'0' * 31}-{_S}-01"},
    {"traceparent": f"00-{_T}-{'0' * 15}1-01"},
    {"traceparent": f"00-{'0' * 32}-{'0' * 16}-01"},
    {"traceparent": f"01-{'0' * 32}-{_S}-01-x"},
    {"traceparent": f"01-{_T}-{'0' * 16}-00-x"},
    {"traceparent": f"00-{'0' * 33}-{_S}-01"},
]


@pytest.mark.parametrize("headers", EDGE_CONTEXTS)
def test_the_app_traces_pattern_and_bounds_are_the_sdks_propagators(headers: dict[str, str]) -> None:
    """``app_trace``'s own pattern and length bounds (not the SDK's private constants) give the SDK
    propagator's answers at their edges: a traceparent of 511, 512 and 513 characters, a tracestate of 8,191,
    8,192 and 8,193, blanks, case and line ends around the fields, the version and the ids the pattern checks
    (``ff``, all zero, one digit off)."""
    _assert_read_as_the_propagator_reads(headers)


def _assert_read_as_the_propagator_reads(headers: dict[str, str]) -> None:
    """``app_trace(headers)`` is what the SDK's propagator reads (``test_the_app_trace_is_...``)."""
    parent = extract_parent(headers)
    app = unsampled_app(parent)
    read = app_trace(headers)
    if parent is ROOT:
        assert read is ROOT
    elif app is not None:
        assert read == app_headers(app, parent, headers)
    else:
        assert isinstance(read, Context)
        assert read.keys() == parent.keys()
        span, wanted = get_current_span(read), get_current_span(parent).get_span_context()
        assert type(span) is NonRecordingSpan
        context = span.get_span_context()
        assert context == wanted
        assert (context.is_remote, context.trace_flags, context.trace_state.to_header()) == (
            wanted.is_remote,
            wanted.trace_flags,
            wanted.trace_state.to_header(),
        )


def test_a_sidecar_without_trace_exporters_does_not_load_the_sdks_tracing() -> None:
    """Telemetry with no exporter configured builds no tracer and imports neither the SDK's tracing nor its
    resources (they are loaded only when a trace or metrics exporter is configured)."""
    code = (
        "import sys\n"
        "from sidecar.telemetry import Telemetry\n"
        "Telemetry.from_env({}, service_version='t')\n"
        "print(sorted(m for m in ('opentelemetry.sdk.trace', 'opentelemetry.sdk.resources') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


# Trace context headers not valid, in shapes from the corpora above: a request carrying one starts a new trace.
INVALID_TRACEPARENTS = [
    "junk",
    f"00-{'0' * 32}-{_S}-01",  # an all-zero trace id
    f"00-{_T}-{'0' * 16}-01",  # an all-zero span id
    f"ff-{_T}-{_S}-01",  # the forbidden version
    f"00-{_T}-{_S}-01-more",  # version 00 with a field after its flags
    f"00-{_T.upper()}-{_S}-01",  # upper-case hex
    f"{_VERSION_01}01-{'x' * 497}",  # over the propagator's 512 characters
]


def _one_provider(url: str) -> str:
    """A policy whose route ``chain`` calls one fake OpenAI provider at ``url``."""
    return (
        f"version: 1\ndefaults:\n  resilience: {{{CONNECT}}}\nproviders:\n{provider_block('p0', url, 'openai')}"
        "models:\n  m0: {provider: p0, model: up0}\nroutes:\n  - {name: chain, match: {model: chain}, target: [m0]}\n"
    )


async def _served(
    fake: FakeFactory, sidecar: SidecarFactory, sampler: str, headers: dict[str, str]
) -> tuple[Any, dict[str, str]]:
    """One chat completion through openai-python carrying ``headers``, served by a sidecar whose sampler is
    ``sampler`` (at ratio 0): the running sidecar and the headers its provider got."""
    url = await fake("f0")
    running = await sidecar(_one_provider(url), sampler=(sampler, 0.0))
    async with openai_client(running, **headers) as client:
        answer = await client.chat.completions.create(model="chain", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    return running, (await running.fake_requests(url))[-1]["headers"]


def _nothing_but_access_lines(running: Any) -> None:
    lines = running.log_lines()
    assert [line["event"] for line in lines] == ["access"], lines


@pytest.mark.parametrize("traceparent", INVALID_TRACEPARENTS)
async def test_an_invalid_traceparent_under_parentbased_always_on_starts_a_recorded_trace_and_logs_nothing(
    fake: FakeFactory, sidecar: SidecarFactory, traceparent: str
) -> None:
    """openai-python sending a ``traceparent`` that is not valid to a sidecar sampling ``parentbased_always_on``:
    the request is served as a new trace, recorded (a SERVER span without a parent, not on the app's ids), the
    provider gets that trace's sampled ``traceparent``, and nothing but the access line is logged."""
    running, upstream = await _served(fake, sidecar, "parentbased_always_on", {"traceparent": traceparent})
    sent = upstream["traceparent"]
    [server] = [span for span in running.spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert server.parent is None
    version, trace_id, _, flags = sent.split("-")
    assert (version, trace_id, int(flags, 16) & 1) == ("00", f"{server.context.trace_id:032x}", 1)
    assert _T not in sent
    _nothing_but_access_lines(running)


@pytest.mark.parametrize("traceparent", INVALID_TRACEPARENTS)
async def test_an_invalid_traceparent_under_a_parentbased_ratio_of_0_is_served_untraced_and_logs_nothing(
    fake: FakeFactory, sidecar: SidecarFactory, traceparent: str
) -> None:
    """openai-python sending a ``traceparent`` that is not valid to a sidecar sampling
    ``parentbased_traceidratio`` at 0: the request is served as a new trace the sampler drops (no span), the
    provider gets that trace's ``traceparent`` with the sampled flag off (``-02``: the random-trace-id flag), not
    the app's, and nothing but the access line is logged."""
    running, upstream = await _served(fake, sidecar, "parentbased_traceidratio", {"traceparent": traceparent})
    sent = upstream["traceparent"]
    assert running.spans.get_finished_spans() == ()
    version, trace_id, span_id, flags = sent.split("-")
    assert (version, flags, len(trace_id), len(span_id)) == ("00", "02", 32, 16)
    assert trace_id != "0" * 32 and _T not in sent
    _nothing_but_access_lines(running)


# Trace context the SDK refuses and warns of, under the sampler that has it read it: an over-long traceparent
# (read by the propagator for a sampler that is not ``parentbased_``), a tracestate out of the W3C format or of
# more than 32 entries (with a sampled or an unsampled traceparent). One over 8,192 characters never gets this far
# (aiohttp answers 431: a header line over 8,190 bytes).
REFUSED_WITH_A_WARNING = [
    ("traceidratio", {"traceparent": f"{_VERSION_01}01-{'x' * 497}"}),
    ("parentbased_always_on", {"traceparent": f"00-{_T}-{_S}-01", "tracestate": "no equals"}),
    ("parentbased_always_on", {"traceparent": f"00-{_T}-{_S}-00", "tracestate": "no equals"}),
    (
        "parentbased_always_on",
        {"traceparent": f"00-{_T}-{_S}-01", "tracestate": ",".join(f"k{i}=v" for i in range(33))},
    ),
]


@pytest.mark.parametrize(("sampler", "headers"), REFUSED_WITH_A_WARNING)
async def test_trace_context_the_sdk_refuses_with_a_warning_logs_nothing(
    fake: FakeFactory, sidecar: SidecarFactory, sampler: str, headers: dict[str, str]
) -> None:
    """openai-python sending a trace context header that the SDK refuses with a warning (an over-long
    ``traceparent``, a ``tracestate`` out of the W3C format or of more than 32 entries): the request is served
    and nothing but the access line is logged (not one warning a request, holding what the app sent)."""
    running, _ = await _served(fake, sidecar, sampler, headers)
    _nothing_but_access_lines(running)


@pytest.mark.parametrize("sampler", ["parentbased_always_on", "parentbased_traceidratio"])
@pytest.mark.parametrize("traceparent", ["junk", f"00-{'0' * 32}-{_S}-01"])
async def test_an_apps_tracestate_beside_an_invalid_traceparent_does_not_reach_the_provider(
    fake: FakeFactory, sidecar: SidecarFactory, sampler: str, traceparent: str
) -> None:
    """openai-python sending a ``traceparent`` that is not valid with a ``tracestate``: the call is a new trace
    and the provider gets that trace's ``traceparent`` without the app's ``tracestate`` (W3C Trace Context: a
    new trace drops it; before 2026-12-07 it went on beside the new trace's ids), recorded or not."""
    headers = {"traceparent": traceparent, "tracestate": "vendor=abc"}
    _, upstream = await _served(fake, sidecar, sampler, headers)
    assert _T not in upstream["traceparent"]
    assert "tracestate" not in upstream


@pytest.mark.parametrize("flags", ["01", "00"])
@pytest.mark.parametrize("tracestate", ["no equals", ",".join(f"k{i}=v" for i in range(33))])
async def test_a_tracestate_the_sdk_refuses_does_not_reach_the_provider(
    fake: FakeFactory, sidecar: SidecarFactory, flags: str, tracestate: str
) -> None:
    """openai-python sending a valid ``traceparent`` (sampled, recorded; or not sampled, passed on) with a
    ``tracestate`` the SDK refuses (out of the W3C format, over 32 entries): the provider gets the app's trace
    and no ``tracestate`` (before 2026-12-07 the refused one went on as it came)."""
    headers = {"traceparent": f"00-{_T}-{_S}-{flags}", "tracestate": tracestate}
    _, upstream = await _served(fake, sidecar, "parentbased_always_on", headers)
    assert upstream["traceparent"].split("-")[1] == _T
    assert "tracestate" not in upstream


async def test_a_valid_tracestate_reaches_the_provider_with_the_apps_trace(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python sending a valid ``traceparent`` and ``tracestate``: the provider gets the app's trace and
    its ``tracestate`` (the one the sidecar writes in place of the app's)."""
    headers = {"traceparent": f"00-{_T}-{_S}-01", "tracestate": "vendor=abc,other=1"}
    _, upstream = await _served(fake, sidecar, "parentbased_always_on", headers)
    assert upstream["traceparent"].split("-")[1] == _T
    assert upstream["tracestate"] == "vendor=abc,other=1"
