"""Shadow evaluation: also ask candidate models a sampled share of requests, never return their answers,
and learn how often they agree with the served one, at what cost and latency. Pure: no I/O.

Map:

- ``spec``      the ``shadow:`` policy block
- ``sampling``  ``sampled(request_id, rate, route)``: a deterministic draw per request
- ``compare``   agreement by a normalizer (as ensembles), or the judge's prompt and strict verdict
- ``stats``     ``ShadowStats``: bounded aggregate per route x task class x candidate (agreement, cost,
                latency); ``ShadowSlots``: the per-route bound on shadow calls in flight

User documentation: ``docs/ensembles.md`` ("Shadow evaluation").
"""

from .. import policy as _policy  # noqa: F401  # first: the policy compiler imports this package
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
