"""Weighted split and canary: one arm per request by weight, the same arm for the same key.

``WeightedSplit(arms, salt)`` lays the arms' weights side by side on [0, 1) in order. ``pick(key)``
maps the key to a point by a stable hash (BLAKE2b of ``salt`` and the key, not Python's ``hash``,
which is salted per process, so every sidecar replica and every restart agree) and answers the arm
whose interval holds it; without a key it draws a random point per request. The salt (the route's
name) keeps two splits independent: a user in the canary of one is not by that in
the canary of every other.

Raising the last arm's weight only widens its interval downwards, so a canary that grows from 10%
to 20% keeps every user it had. ``sticky_key`` reads the key a policy names: ``app`` or
``header:<name>``.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
_SCALE = float(1 << 64)


def stable_unit(key: str, salt: str) -> float:
    """A point in [0, 1) that depends only on ``salt`` and ``key``."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8, key=salt.encode()[:64])
    return int.from_bytes(digest.digest(), "big") / _SCALE


def sticky_key(sticky_by: str | None, headers: Mapping[str, str], app: str) -> str | None:
    """The key ``sticky_by`` names (``app`` or ``header:<name>``); None when absent."""
    if sticky_by is None:
        return None
    if sticky_by == "app":
        return app or None
    return headers.get(sticky_by.removeprefix("header:")) or None


class WeightedSplit(Generic[T]):
    """Arms with weights; ``pick`` answers one arm per key, the same one every time."""

    __slots__ = ("_bounds", "arms", "salt", "weights")

    def __init__(self, arms: Sequence[tuple[T, float]], salt: str) -> None:
        if not arms or any(weight <= 0 for _, weight in arms):
            raise ValueError("a split needs arms with positive weights")
        total = sum(weight for _, weight in arms)
        bounds, running = [], 0.0
        for _, weight in arms[:-1]:
            running += weight / total
            bounds.append(running)
        self.arms = tuple(arm for arm, _ in arms)
        self.weights = tuple(weight for _, weight in arms)
        self._bounds = tuple(bounds)
        self.salt = salt

    def index(self, key: str | None, rng: random.Random | None = None) -> int:
        point = stable_unit(key, self.salt) if key is not None else (rng or random).random()
        return bisect.bisect_right(self._bounds, point)

    def pick(self, key: str | None, rng: random.Random | None = None) -> T:
        return self.arms[self.index(key, rng)]
