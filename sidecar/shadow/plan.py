"""``Shadow``: a route's ``shadow:`` block, compiled at policy load (candidate targets resolved, the
normalizer built); run by ``server.shadowing``. ``app_key_errors``: a candidate or agreement judge on a
provider that passes the app's own key through is a load error (a shadow call is the sidecar's, never
made with an app's key)."""

from __future__ import annotations

from collections.abc import Sequence
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


def app_key_errors(where: str, targets: Sequence[Target]) -> list[str]:
    """An error for each of ``targets`` whose provider passes the app's key through (``api_key: {passthrough:
    true}``): a shadow call is the sidecar's own evaluation, which the app never asked for, so it must not spend
    the app's key, nor carry it to a provider the app did not address (before 2026-12-06 it did both)."""
    return [
        f"{where}: model {target.name!r} is on provider {target.provider.name!r}, which passes the app's own key"
        " through (api_key: {passthrough: true}); a shadow call is the sidecar's and is never sent with an app's"
        " key: give the model a provider with a key of its own (env or file)"
        for target in targets
        if target.provider.api_key is not None and target.provider.api_key.passthrough
    ]
