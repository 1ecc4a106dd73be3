"""Which requests are mirrored: a deterministic draw from the request id, per route.

``sampled(key, rate, salt)`` hashes ``salt`` (the route's name) and ``key`` (the request id) to a number
in [0, 1) and compares it with ``rate``: the same key is always decided the same way, different routes
sample independently, and over many requests the share is ``rate``. No state, no random generator. The
request path's key is the sidecar's request id, drawn anew for every request (an app's retry of a
request is a new request, drawn again).
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
