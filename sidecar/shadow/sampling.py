"""Which requests are mirrored: a deterministic draw from the request id, per route.

``sampled(key, rate, salt)`` hashes ``salt`` (the route's name) and ``key`` (the request id) to a number
in [0, 1) and compares it with ``rate``: the same request is always decided the same way (a retried
request, every sidecar replica), different routes sample independently, and over many requests the
share is ``rate``. No state, no random generator.
"""

from __future__ import annotations

import hashlib

_SCALE = float(1 << 64)


def sampled(key: str, rate: float, salt: str = "") -> bool:
    if rate <= 0.0:
        return False
    if rate >= 1.0:
        return True
    digest = hashlib.blake2b(key.encode(), digest_size=8, key=salt.encode()[:64]).digest()
    return int.from_bytes(digest, "big") / _SCALE < rate
