"""Instructions of a miss's key, piece by piece, and of the hash forms the key could take.

    python bench/cache_key_parts.py [--pieces loop,canonical,...] [--few 1000] [--many 6000] [--baseline REF]

Runs this file under ``valgrind --tool=cachegrind`` twice per piece, doing ``--few`` and then ``--many``
operations in process on bench/cache_path.py's cacheable request (an OpenAI chat body of about 250
bytes), each piece alone (not cumulative):

- ``loop``: the loop itself (what the other rows include);
- ``key``: the app's directive and the whole key, as the cache stage does them first
  (bench/cache_hit_parts.py's ``directive_and_key``: ``client_control``, then ``RouteCache.key``: every
  piece below, and its own calls);
- ``control``: the app's directive alone (``client_control``);
- ``uncacheable``: the dialect's check for what a hit could not give back, and ``cacheable``;
- ``scope``: the caller's scope (``caller_scope``: the two app names as JSON);
- ``scope, kept``: the scope the plan keeps for the pair (``RouteCache._scope``; nothing where the package
  has none);
- ``canonical``: the canonical body (``canonical_body``: transport fields dropped, keys sorted);
- ``headers``: the request's headers that change the answer (``header_part``);
- ``hash``: the key's BLAKE2b over its parts, in hex (``cache_key`` from the identity bytes);
- ``hash, started copy``: the same key from a copy of a BLAKE2b that read the route identity at policy
  load (``hashlib``'s ``copy``, the parts after it: the plan's ``key.started_key`` since wave 47);
- ``hash, BLAKE2b``: a bare 32-byte BLAKE2b of the same parts, joined alike, without the version prefix.

The difference of the totals over the difference of the counts is one operation's instructions.
``--baseline REF``: the same with the ``sidecar`` package of git revision REF. Needs valgrind.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable

import orjson
from cache_hit_parts import directive_and_key
from cache_path import CACHED_REQUEST
from parts_command import measured_code, parts_arguments, valgrind_script

PIECES = (
    "loop",
    "key",
    "control",
    "uncacheable",
    "scope",
    "scope, kept",
    "canonical",
    "headers",
    "hash",
    "hash, started copy",
    "hash, BLAKE2b",
)


def piece(name: str) -> Callable[[], object]:
    from sidecar.cache import RouteCacheSpec
    from sidecar.cache.control import client_control
    from sidecar.cache.key import (
        KEY_VERSION,
        cache_key,
        caller_scope,
        canonical_body,
        header_part,
        route_identity,
        uncacheable,
    )
    from sidecar.cache.plan import RouteCache
    from sidecar.dialects import Dialect

    settings = RouteCacheSpec(enabled=True, cacheable="always")
    identity = route_identity("cached", [("nginx/bench-upstream", None)], "drop")
    plan = RouteCache(settings, identity, False)
    raw = CACHED_REQUEST.encode()
    body = orjson.loads(raw)
    headers = {"content-type": "application/json", "host": "127.0.0.1"}
    openai = Dialect.OPENAI
    canonical = canonical_body(openai, body)
    scope = caller_scope(deployment_app="default", app="default", caller_key=None, share_across_apps=False)
    started = hashlib.blake2b(identity + b"\0", digest_size=32)  # ``key.started_key``, where the package has it

    def copied() -> str:
        digest = started.copy()
        digest.update(b"\0".join((b"openai", b"cached-model", scope.encode(), canonical)))
        return KEY_VERSION + ":" + digest.hexdigest()

    kept_scope = getattr(plan, "_scope", None)  # the plan's kept scopes, where the package has them

    def blake2b() -> str:
        joined = b"\0".join((identity, b"openai", b"cached-model", scope.encode(), canonical))
        return hashlib.blake2b(joined, digest_size=32).hexdigest()

    pieces: dict[str, Callable[[], object]] = {
        "loop": lambda: None,
        "key": lambda: directive_and_key(plan, headers, body, raw, settings.ttl_s),
        "control": lambda: client_control(headers, allowed=settings.client_control),
        "uncacheable": lambda: uncacheable(openai, body, raw, "always"),
        "scope": lambda: caller_scope(
            deployment_app="default", app="default", caller_key=None, share_across_apps=False
        ),
        "scope, kept": (lambda: kept_scope("default", "default")) if kept_scope is not None else lambda: None,
        "canonical": lambda: canonical_body(openai, body),
        "headers": lambda: header_part(openai, headers),
        "hash": lambda: cache_key(identity, openai, "cached-model", scope, canonical),
        "hash, started copy": copied,
        "hash, BLAKE2b": blake2b,
    }
    return pieces[name]


def main() -> int:
    pieces = PIECES
    if "--pieces" in sys.argv:  # some of the pieces only: ``--pieces loop,canonical`` (before the other options)
        at = sys.argv.index("--pieces")
        pieces = tuple(sys.argv[at + 1].split(","))
        del sys.argv[at : at + 2]
    args = parts_arguments(1000, 6000, run_values=2)
    if args.run is not None:
        call = piece(args.run[0])
        for _ in range(int(args.run[1])):
            call()
        return 0
    codes = measured_code(__file__, args)
    print("\n| piece | " + " | ".join(label for label, _ in codes) + " |\n|---|" + "---|" * len(codes))
    for name in pieces:
        cells = []
        for _, code in codes:
            few = valgrind_script(__file__, ["--run", name, str(args.few)], code)
            many = valgrind_script(__file__, ["--run", name, str(args.many)], code)
            cells.append(f"{(many - few) / (args.many - args.few):,.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
