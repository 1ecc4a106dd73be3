"""Ensembles: ask 2-5 models the same thing and combine their answers into one. Pure: no I/O.

Map (policy load at the top, one request below):

- ``spec``        the ``ensemble:`` policy block (pydantic, path-qualified errors)
- ``compiled``    ``compile_ensemble(spec) -> Ensemble``: members named, normalizer compiled, call cap set
- ``plan``        ``EnsemblePlan``: the route plan (``policy.plans``) with each member's chain and the judge's
- ``normalize``   answer text -> the key that votes (text, json, json_path, regex)
- ``answer_key``  an answer as a vote sees it: its text's key, or its tool calls' names and arguments
- ``jsondoc``     JSON inside answers: fences, canonical form, the path language
- ``tally``       groups of agreeing answers, the winner, the early-quorum certainty test
- ``run``         ``EnsembleRun``: one request's vote, fed as member calls finish; ``Decision`` and its
                  ``x-sidecar-ensemble`` header; ``EnsembleFailure`` when too few answers are usable
- ``judge``       the judge's prompt and request, the strict reading of its verdict
- ``confidence``  log-probabilities: ask for them, read a confidence, strip them from the answer

User documentation: ``docs/ensembles.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .compiled import Ensemble, Judge, compile_ensemble
    from .run import Decision, EnsembleFailure, EnsembleRun
    from .spec import EnsembleSpec
    from .tally import Ballot, Member

__all__ = [
    "Ballot",
    "Decision",
    "Ensemble",
    "EnsembleFailure",
    "EnsembleRun",
    "EnsembleSpec",
    "Judge",
    "Member",
    "compile_ensemble",
]

# Each name is imported from its module on first use (``sidecar.lazy``): importing ``spec`` for the
# policy's root model does not load the request path of a feature the policy does not use.
__getattr__ = lazy_exports(
    __name__,
    {
        "Ballot": "tally",
        "Decision": "run",
        "Ensemble": "compiled",
        "EnsembleFailure": "run",
        "EnsembleRun": "run",
        "EnsembleSpec": "spec",
        "Judge": "compiled",
        "Member": "tally",
        "compile_ensemble": "compiled",
    },
)
