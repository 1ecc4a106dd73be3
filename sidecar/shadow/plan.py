"""``Shadow``: a route's ``shadow:`` block, compiled at policy load (candidate targets resolved, the
normalizer built); run by ``server.shadowing``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..ensemble.normalize import Normalizer
from .spec import ShadowSpec

if TYPE_CHECKING:
    from ..policy.compiled import Target


@dataclass(frozen=True, slots=True)
class ShadowJudge:
    chain: tuple[Target, ...]
    template: str
    max_tokens: int


@dataclass(frozen=True, slots=True)
class Shadow:
    candidates: tuple[Target, ...]
    sample: float
    normalizer: Normalizer
    judge: ShadowJudge | None
    max_concurrent: int
    spec: ShadowSpec | None = field(default=None, compare=False)  # as written (``llm-sidecar diff``)
