"""Everything one running sidecar holds, in one object its handlers are given (no module globals)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..budgets.keeper import LedgerKeeper
from ..credentials import Credentials
from ..held_bytes import HeldBytes
from ..policy.watch import PolicyHolder
from ..settings import Settings
from ..shadow.stats import ShadowStats
from ..telemetry import Telemetry
from ..telemetry.logging import LogOutput
from ..upstream import EnvProxies
from .access import AccessLog
from .response_caches import ResponseCaches
from .targets import TargetStates


@dataclass(eq=False)
class SidecarState:
    settings: Settings
    holder: PolicyHolder
    telemetry: Telemetry
    credentials: Credentials
    targets: TargetStates
    log_output: LogOutput
    access: AccessLog
    proxies: EnvProxies  # HTTP(S)_PROXY / NO_PROXY, read once at start
    budgets: LedgerKeeper  # the budget ledger of the policy being served (server.budget)
    held: HeldBytes  # the bytes bodies hold now, under the process's ceiling (``held_bytes``)
    shadow: ShadowStats = field(default_factory=ShadowStats)  # what shadow evaluation learnt (/status)
    caches: ResponseCaches = field(default_factory=ResponseCaches)  # the response cache (``response_caches``)
    started: float = field(default_factory=time.monotonic)
    listening: bool = False
    max_fds: int | None = None  # the open-files limit the process runs with (``fd_limit``), when known
    draining: bool = False
    listener_stopped: bool = False  # a listening socket stopped accepting: the process exits 1 (``lifecycle.serve``)
