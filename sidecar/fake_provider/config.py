"""The fake provider's settings: an immutable ``FakeConfig`` and its validation.

A server starts from one ``FakeConfig``; ``POST /_fake/config`` builds a new one with ``updated`` and the
state swaps it in by one assignment, so a request in flight keeps the settings it started with.
``quality`` accepts plain data (``{model glob: {field: value}}``) and holds parsed ``QualityProfile``
objects (see ``profiles``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from sidecar.fake_provider.faults import parse_faults
from sidecar.fake_provider.profiles import QualityProfile, parse_profiles


@dataclass(frozen=True)
class FakeConfig:
    """How one fake server behaves. Every field is optional; the defaults make a fast, healthy server."""

    name: str = "fake"  # server name used to scope faults (`name:spec` items)
    latency_ms: float = 0  # added before the response headers
    ttft_ms: float = 0  # time to first token (streams; non-stream replies wait for it too)
    tokens_per_s: float = 0  # 0 = unlimited; pacing between stream chunks
    fault: str | None = None  # default fault spec, applied at `fault_rate`
    fault_rate: float = 0.0  # probability 0..1 of applying `fault` to a request
    seed: int | None = None  # seeds ids, the fault-rate draws and the quality draws (0 when unset)
    reply: str | None = None  # fixed reply text; default echoes the last user text
    # model glob -> quality profile (or its plain-data form), for requests that carry a truth
    quality: Mapping[str, QualityProfile] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if any(not isinstance(profile, QualityProfile) for profile in self.quality.values()):
            object.__setattr__(self, "quality", parse_profiles(self.quality))
        validate(self)


# Fields ``POST /_fake/config`` may change, with the types it accepts for each.
RUNTIME_FIELDS: Mapping[str, tuple[type, ...]] = {
    "fault": (str, type(None)),
    "fault_rate": (int, float),
    "latency_ms": (int, float),
    "ttft_ms": (int, float),
    "tokens_per_s": (int, float),
    "reply": (str, type(None)),
    "quality": (dict,),
}


def validate(config: FakeConfig) -> None:
    """Raise ``ValueError`` naming the first bad field."""
    if not config.name or any(ch in config.name for ch in ":,;[]"):
        raise ValueError(f"name: {config.name!r} must be non-empty without ':,;[]'")
    for name in ("latency_ms", "ttft_ms", "tokens_per_s"):
        value = getattr(config, name)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
    if not 0.0 <= config.fault_rate <= 1.0:
        raise ValueError(f"fault_rate: must be between 0 and 1, got {config.fault_rate!r}")
    if config.fault:
        try:
            parse_faults(config.fault)
        except ValueError as exc:
            raise ValueError(f"fault: {exc}") from None


def updated(config: FakeConfig, changes: Mapping[str, object]) -> FakeConfig:
    """A copy of ``config`` with the runtime ``changes`` applied; ``ValueError`` on an unknown or bad field.

    Setting ``fault`` without ``fault_rate`` while the rate is 0 sets the rate to 1, so that
    ``{"fault": "status=503"}`` takes the server down as one would expect. ``quality`` replaces the
    configured profiles whole.
    """
    for key, value in changes.items():
        allowed = RUNTIME_FIELDS.get(key)
        if allowed is None:
            raise ValueError(f"{key}: not a runtime setting (one of {', '.join(RUNTIME_FIELDS)})")
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise ValueError(f"{key}: wrong type {type(value).__name__}")
    values = dict(changes)
    if values.get("fault") and "fault_rate" not in values and config.fault_rate == 0:
        values["fault_rate"] = 1.0
    return dataclasses.replace(config, **values)  # type: ignore[arg-type]
