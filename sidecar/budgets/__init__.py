"""Spend and rate limits (issue 22): budgets per app, route, team, key, model and provider.

The request path uses one object, ``Ledger``, after routing (docs/budgets.md)::

    admission = await ledger.admit(BudgetRequest(...), chain)     # check + reserve, all limits at once
    admission.decision.verdict: allow | warn | downgrade (serve decision.targets) | deny (429)
    await admission.switch(target, spent)                           # a fallback: spent settled, target reserved
    await admission.hold_race(target)                               # a hedge's call held too (race_over: settled)
    await admission.settle(usage) | await admission.release()      # the answer ended / nothing billed
    admission.charge(usage)                                         # settle; None: done (local store)

Modules (one concept each):

- ``spec``          the ``budgets`` policy block (pydantic): limits, scopes, actions, the store
- ``compiled``      ``compile_budgets`` -> ``Budgets``: validated, names resolved; ``Limit.scope_value``
- ``windows``       calendar windows in UTC: ``bounds(window, now)``, ``WindowClock``
- ``estimate``      what a reservation assumes of a request: its prompt tokens and output maximum, cheaply
- ``pricing``       the estimate and the actual use of one call, in integer counter units
- ``store``         the store contract (reserve / settle / read), ``LocalStore``
- ``redis_store``   ``RedisStore``: the same operations as server-side Lua scripts, shared by all pods
- ``server_clock``  ``ServerClock``: the pod's clock moved onto Redis's (``TIME``), which names shared windows
- ``guard``         ``GuardedStore``: breaker and timeout on the shared store, local fallback, retry queue
- ``plans``         ``Planner``: a call's counters, cached per target, scope values and window
- ``lane``          ``Lane``: a route's chain as the plain path reads it (first target, prices, the shared allow)
- ``lease``         ``Lease``: room a plan takes at once on its local counters, spent per plain admission
- ``ledger``        ``Ledger``: admission (the walk over the chain, the plain path), fallback on store errors
- ``opening``       ``open_ledger``: a ledger on the store the policy names (the pod's, or Redis)
- ``admission``     ``Admission``: one request's decision and reservation until settled or released
- ``call_moves``    ``CallMoves``: an ensemble's call moving on (``switch_call``, its races), ``Admission``'s base
- ``plain_admission`` ``PlainAdmission``: the plain allow of a one-target chain on the local store, kept as
                  three fields until something needs an ``Admission``
- ``joint``         ``JointPlan``: the counters of every target an ensemble calls at once, each counter once
- ``calls``         the calls an ensemble request may make at once, each priced as its own model
- ``call_holds``    an ensemble's reservation: admitted jointly on its calls' targets, settled per call
- ``verdicts``      the decision when a limit passed, refused, or headers were asked for
- ``decision``      ``Decision``: the verdict, its 429 message, headers, span event, access field
- ``visibility``    ``Tracker``: counter keys per window and last-seen uses for /status and metrics (``Gauge``)
- ``keeper``        ``LedgerKeeper``: the ledger of the policy served, across reloads (``SidecarState.budgets``)
- ``explain``       what ``llm-sidecar explain`` says about budgets: the limits a request counts in, offline
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .admission import Admission
    from .compiled import BudgetRequest, Budgets, Limit, TargetInfo, compile_budgets, hash_key
    from .decision import Decision, LimitState, budget_headers
    from .guard import LedgerStats
    from .ledger import Ledger
    from .opening import open_ledger
    from .spec import BudgetsSpec

__all__ = [
    "Admission",
    "BudgetRequest",
    "Budgets",
    "BudgetsSpec",
    "Decision",
    "Ledger",
    "LedgerStats",
    "Limit",
    "LimitState",
    "TargetInfo",
    "budget_headers",
    "compile_budgets",
    "hash_key",
    "open_ledger",
]

# Each name is imported from its module on first use (``sidecar.lazy``): importing ``spec`` for the
# policy's root model does not load the request path of a feature the policy does not use.
__getattr__ = lazy_exports(
    __name__,
    {
        "Admission": "admission",
        "BudgetRequest": "compiled",
        "Budgets": "compiled",
        "BudgetsSpec": "spec",
        "Decision": "decision",
        "Ledger": "ledger",
        "LedgerStats": "guard",
        "Limit": "compiled",
        "LimitState": "decision",
        "TargetInfo": "compiled",
        "budget_headers": "decision",
        "compile_budgets": "compiled",
        "hash_key": "compiled",
        "open_ledger": "opening",
    },
)
