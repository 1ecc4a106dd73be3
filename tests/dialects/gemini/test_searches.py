"""``dialects.gemini.searches``: the grounding queries of a Gemini stream, distinct and non-empty across
its fragments (one fragment may be a JSON array of responses)."""

from __future__ import annotations

import orjson

from sidecar.dialects import Operation
from sidecar.dialects.gemini.searches import stream_searches


def grounded(*queries: str) -> dict[str, object]:
    return {"candidates": [{"index": 0, "groundingMetadata": {"webSearchQueries": list(queries)}}]}


def test_the_distinct_queries_of_every_fragment_are_counted() -> None:
    """Fragments grounded with ``a``, ``b`` and ``""``, then ``b`` and ``c`` (one as a JSON array): 3 queries."""
    tally = stream_searches(Operation.GENERATE_CONTENT)
    for fragment in (grounded("a", "b", ""), [grounded("b", "c")]):
        tally.see(orjson.dumps(fragment))
    assert tally.count() == 3
