"""A plain admission (``Ledger.admit_plain``): the plain "allow" of a one-target chain on the local store,
its reservation kept as three fields (id, plan, units) until something needs the general form
(``admission.Held``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .admission import Admission, Held

if TYPE_CHECKING:
    from sidecar.translate import Usage

    from .compiled import BudgetRequest
    from .decision import Decision
    from .lane import Lane
    from .ledger import Ledger
    from .plans import Plan


class PlainAdmission(Admission):
    """An admission of ``Ledger.admit_plain``: the plain "allow", its reservation on the local store as
    its id, plan and (usd, tokens, requests) units. ``charge_plain`` settles it as it is; every other
    end makes the general form (``Held``) first."""

    __slots__ = ("_plan", "_res_id", "_units")

    def __init__(
        self,
        ledger: Ledger,
        request: BudgetRequest | None,
        decision: Decision,
        res_id: int,
        plan: Plan,
        units: tuple[int, int, int],
    ) -> None:
        self._ledger = ledger
        self._request = request
        self.decision = decision
        self._held = None
        self.reserved = True
        self._racer = None
        self._spent = (0, 0)
        self._counted = False
        self._owed = False
        self._counted_on = None
        self._calls = None
        self._res_id: int | None = res_id
        self._plan = plan
        self._units = units

    def _hold(self) -> Held | None:
        res_id = self._res_id
        if res_id is not None:
            self._res_id = None
            self._held = Held(res_id, self._plan, self._units, "ok", (), True)
        return self._held

    def charge_plain(self, usage: Usage, lane: Lane) -> None:
        res_id = self._res_id
        if res_id is None:
            self.charge(usage, lane.target)
            return
        self._res_id = None
        units = lane.used(usage)
        local = self._ledger._stores.local
        if not local.settle_held(res_id, units):  # expired meanwhile: the use alone
            local.settle_now(res_id, self._plan.refs, self._plan.pick(units))
