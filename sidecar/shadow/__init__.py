"""Shadow evaluation: also ask candidate models a sampled share of requests, never return their answers,
and learn how often they agree with the served one, at what cost and latency. Pure: no I/O.

Map:

- ``spec``      the ``shadow:`` policy block
- ``plan``      ``Shadow``: the block compiled at policy load (candidate targets resolved, normalizer built)
- ``sampling``  ``sampled(request_id, rate, route)``: a deterministic draw per request
- ``compare``   agreement by a normalizer (as ensembles), or the judge's prompt and strict verdict
- ``stats``     ``ShadowStats``: bounded aggregate per route x task class x candidate (agreement, cost,
                latency); ``ShadowSlots``: the per-route bound on shadow calls in flight

User documentation: ``docs/ensembles.md`` ("Shadow evaluation").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .compare import agree, agreement_prompt, parse_agreement
    from .sampling import sampled
    from .spec import ShadowSpec
    from .stats import CandidateStats, ShadowOutcome, ShadowRow, ShadowSlots, ShadowStats

__all__ = [
    "CandidateStats",
    "ShadowOutcome",
    "ShadowRow",
    "ShadowSlots",
    "ShadowSpec",
    "ShadowStats",
    "agree",
    "agreement_prompt",
    "parse_agreement",
    "sampled",
]

# Each name is imported from its module on first use (``sidecar.lazy``): importing ``spec`` for the
# policy's root model does not load the request path of a feature the policy does not use.
__getattr__ = lazy_exports(
    __name__,
    {
        "CandidateStats": "stats",
        "ShadowOutcome": "stats",
        "ShadowRow": "stats",
        "ShadowSlots": "stats",
        "ShadowSpec": "spec",
        "ShadowStats": "stats",
        "agree": "compare",
        "agreement_prompt": "compare",
        "parse_agreement": "compare",
        "sampled": "sampling",
    },
)
