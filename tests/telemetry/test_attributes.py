"""The span attribute and event names against their documentation: the sidecar's own
(``telemetry/attributes.py``), the GenAI and HTTP ones (``telemetry/genai.py``), the budget event's, and
the ones the spans of a request actually carry."""

from __future__ import annotations

import re
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sidecar.routing.matrix import Verdict, make_decision
from sidecar.telemetry import Telemetry, Usage, attributes, genai
from sidecar.translate.common import RequestParams

from .helpers import attempt, finish

ROOT = Path(__file__).resolve().parents[2]
# docs/observability.md lists the request's and the calls' spans; each feature's doc its own spans
DOCS = ("observability.md", "ensembles.md", "routing.md", "caching.md", "budgets.md")


def test_every_sidecar_attribute_is_documented() -> None:
    """Each ``sidecar.*`` span attribute name the package sets is written (in backticks) in the docs."""
    text = "".join((ROOT / "docs" / doc).read_text() for doc in DOCS)
    names = {value for key, value in vars(attributes).items() if key.isupper() and isinstance(value, str)}
    assert (
        len(names) > 20
        and sorted(name for name in names if f"`{name}`" not in text and f"`[{name}]`" not in text) == []
    )


NAMESPACES = ("sidecar.", "gen_ai.", "http.", "url.", "server.", "error.")


def documented_attributes() -> set[str]:
    """The span, event and attribute names the pages write in backticks (``[name]``: set when it applies),
    their short forms written out: a ``.scope`` after ``sidecar.budget.limit`` (in one paragraph) is
    ``sidecar.budget.scope``, and a ``temperature`` after ``gen_ai.request.max_tokens`` in one table row
    is ``gen_ai.request.temperature``."""
    names: set[str] = set()
    for doc in DOCS:
        parent = ""
        for line in (ROOT / "docs" / doc).read_text().splitlines():
            parent = parent if line.strip() and not line.startswith("|") else ""
            for token in re.findall(r"`\[?([\w.]+)\]?`", line):
                if token.startswith(NAMESPACES):
                    names.add(token)
                    parent = token.rpartition(".")[0]
                elif parent and (token.startswith(".") or line.startswith("|")):
                    names.add(f"{parent}.{token.lstrip('.')}")
    return names


def code_attributes() -> set[str]:
    """Every span attribute and event name the package spells: ``telemetry/attributes.py``'s and
    ``telemetry/genai.py``'s constants, the GenAI request parameters' attributes, the budget event's."""
    from sidecar.budgets import decision

    source = Path(decision.__file__).read_text()
    names = {v for module in (attributes, genai) for k, v in vars(module).items() if k.isupper() and isinstance(v, str)}
    names |= {name for _, name in genai._REQUEST_PARAMS}
    names |= set(re.findall(r"\"(sidecar\.budget[\w.]*)\"", source))
    return {name for name in names if name.startswith(NAMESPACES)}


def spans_of_every_kind() -> list[ReadableSpan]:
    """The spans of a request that uses every facade call that sets an attribute or adds an event: a
    routed, cached, budgeted request with a skip, a wait for a slot, a failed call, a fallback, an
    ensemble member's branch, a streamed answer with usage, content captured (and cut)."""
    exporter = InMemorySpanExporter()
    telemetry = Telemetry.for_tests(exporter, capture_content=True, capture_max_bytes=16)
    trace = telemetry.start_request(
        method="POST",
        path="/v1beta/models/gemini-flash:generateContent",
        http_route="/v1beta/models/{model}:generateContent",
        headers={},
        dialect="gemini",
        operation="chat",
        requested_model=None,
        stream=False,
    )
    trace.request_parsed(requested_model="gemini-flash", stream=True)
    trace.route_decided(route="r", targets=["openai/gpt-4o", "anthropic/claude"])
    trace.routed("r", make_decision(Verdict("extraction", "rule"), Verdict("simple", "rule"), "economy", None, 0), "a")
    trace.routing_cost(route="r", task="extraction", served_usd=0.001, requested_usd=0.01, estimated=0.002)
    trace.cache_result(result="bypass", reason="nondeterministic")
    trace.cache_result(result="hit")
    trace.rejected(status=400, reason="invalid_json")
    trace.budget_decided(
        verdict="downgrade",
        limit="team-day",
        attributes={"sidecar.budget.verdict": "downgrade", "sidecar.budget.store": "ok"},
    )
    trace.skipped(target="anthropic/claude", reason="breaker_open")
    trace.waited_for_slot(target="openai/gpt-4o", seconds=0.2, outcome="slot")
    every_param = RequestParams(None, 10, 0.5, 1.0, 3, ("x",), 0.1, 0.1, 1, 2)
    failed = attempt(trace, request_params=every_param)
    failed.finish(status=503, error_type="http_503")
    trace.fallback(from_target="openai/gpt-4o", reason="http_503")
    member = trace.branch("ensemble_member", "mini")
    call = attempt(member, resend_count=1, input_messages=[{"role": "user", "content": "hello " * 10}])
    call.first_chunk()
    call.chunk()
    call.finish(
        status=200,
        error_type=None,
        response_model="gpt-4o",
        response_id="id-1",
        finish_reasons=["stop"],
        usage=Usage(3, 4, 1),
        output_messages=[{"role": "assistant", "content": "hi " * 10}],
    )
    member.end_branch("won")
    finish(trace, status=200, usage=Usage(3, 4, 1), streamed=True, attempts=2, fallback_reason="http_503")
    return list(exporter.get_finished_spans())


def test_every_attribute_and_event_a_span_carries_is_documented() -> None:
    """Each attribute of the SERVER, CLIENT and INTERNAL spans of a request that uses every facade call,
    each event's name and each event attribute, is named in the docs (docs/observability.md's span
    tables and events, or a feature's page)."""
    documented = documented_attributes()
    spans = spans_of_every_kind()
    carried = {key for span in spans for key in span.attributes or {}}
    carried |= {name for span in spans for event in span.events for name in (event.name, *(event.attributes or {}))}
    assert {span.kind.name for span in spans} == {"SERVER", "CLIENT", "INTERNAL"} and len(carried) > 40
    assert sorted(carried - documented) == []


def test_every_attribute_the_code_names_is_documented_and_every_documented_one_is_the_codes() -> None:
    """The span attribute and event names the package spells (its constants, the budget event's) are
    named in the docs, and every name of docs/observability.md's "Spans" section is one of them: the
    tables list no attribute that is gone."""
    named = code_attributes()
    text = (ROOT / "docs" / "observability.md").read_text()
    spans = text.split("\n## Spans\n", 1)[1].split("\n## ", 1)[0]
    shown = {token for token in re.findall(r"`\[?([\w.]+)\]?`", spans) if token.startswith(NAMESPACES)}
    assert len(named) > 50 and len(shown) > 50
    assert {"undocumented": sorted(named - documented_attributes()), "not the code's": sorted(shown - named)} == {
        "undocumented": [],
        "not the code's": [],
    }
