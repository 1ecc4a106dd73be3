"""The cache key: a BLAKE2b of the canonical request and of who is asking. Pure functions, no I/O.

    key = "v3:" + blake2b-256( route identity  \\0  dialect  \\0  requested model  \\0  scope
                                     \\0  canonical body  [\\0  answer headers, chosen chain] ).hex()

- **Route identity** (``route_identity``): the route's name and its target chain (each target's
  provider and upstream model, its output limit), how unsupported parameters are handled, and what else
  in the policy shapes its answers when there is some (``plan.answer_shaping``: a provider's ``headers``
  and ``api_version``, the route's ``gates``, ``caps``, ``ensemble``, ``split`` or ``select`` block): a
  change of any of them (a reload) is a new key space.
- **Canonical body** (``canonical_body``): the request body without the fields that do not change the
  answer (the dialect's ``transport_fields``), keys sorted at every depth (orjson ``OPT_SORT_KEYS``),
  top-level whole floats written as integers (``temperature: 0`` and ``0.0`` are one key; past 64 bits
  they stay floats). ``stream`` is a transport field: a streamed and a whole request share an entry.
- **Answer headers** (``header_part``): the request headers that change the answer and are forwarded to
  the provider: Anthropic's ``anthropic-beta`` (a beta such as interleaved thinking changes what the
  model writes; each name once, sorted) and an ``anthropic-version`` other than the one the sidecar sends
  when the app sends none. A request without them has the key it had before they were counted.
- **Chosen chain**: on a route that chooses its chain per request (a ``split``'s arm, a ``select``'s
  order: ``RouteCache.chosen_chain``), the targets the request walks: one arm's answer is never served
  to a request of another arm.
- **Scope** (``caller_scope``): the deployment's app (``SIDECAR_APP``) and the app the request names
  (``x-sidecar-app``), as a JSON array (no app name can spell another pair), unless the route shares
  entries across apps; with a passthrough API key, a SHA-256 of the caller's key, always (sharing
  across apps never shares across keys). The scope is hashed into the key and never stored in clear.

Requests the cache cannot answer faithfully are not cacheable (``uncacheable``): ones that ask for
output the common form does not carry (log probabilities, audio, several choices, server-side tools,
citations...: each dialect's ``cache_unfaithful``, in its package's ``bodies``), and under
``cacheable: deterministic`` ones with neither ``temperature: 0`` nor a seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

import orjson
from multidict import MultiMapping

from ..dialects import Dialect
from ..dialects.anthropic.wire import VERSION as ANTHROPIC_VERSION
from ..dialects.registry import DIALECTS, wire

KEY_VERSION = "v3"  # v3: BLAKE2b (v2: SHA-256; v2 made the app scope a JSON array, v1 joined the names with "/")


def canonical_body(dialect: Dialect, body: Mapping[str, Any]) -> bytes:
    """The body's bytes with transport fields removed and keys sorted: equal meaning, equal bytes."""
    dropped, nested = _BODY_FIELDS[dialect]
    kept: dict[str, Any] = {}
    for name, value in body.items():
        if name not in dropped:
            if type(value) is float:
                if value.is_integer() and _whole(value):  # a fraction (a temperature of 0.2) without a call
                    value = int(value)
            elif nested and name in nested and type(value) is dict:  # (only Gemini's dialect nests them)
                value = {k: int(v) if type(v) is float and _whole(v) else v for k, v in value.items()}
            kept[name] = value
    return orjson.dumps(kept, option=_SORT_KEYS)


def _whole(value: float) -> bool:
    """A whole float that orjson can write as an integer (64 bits): 1e308 is whole but stays a float."""
    return value.is_integer() and -(2**63) <= value < 2**64


def uncacheable(
    dialect: Dialect, body: dict[str, Any], raw: bytes, cacheable: Literal["deterministic", "always"]
) -> str | None:
    """Why the request must not be answered from (or stored in) the cache, or None.

    ``raw`` is the body's bytes as received (searched for markers too costly to find by walking it).
    """
    reason = wire(dialect).bodies.cache_unfaithful(body, raw)
    if reason is not None:
        return reason
    if cacheable == "deterministic" and not _deterministic(dialect, body):
        return "nondeterministic"
    return None


def _deterministic(dialect: Dialect, body: dict[str, Any]) -> bool:
    """``temperature`` is the number 0, or an integer ``seed`` is set (a bool is neither)."""
    source: Any = body
    nested = wire(dialect).sampling_fields
    if nested:
        source = next((body[name] for name in nested if body.get(name)), None)
        if not isinstance(source, dict):
            return False
    temperature = source.get("temperature")
    seed = source.get("seed")
    return (type(temperature) in (int, float) and temperature == 0) or type(seed) is int


def caller_scope(*, deployment_app: str, app: str, caller_key: str | None, share_across_apps: bool) -> str:
    """Who may read an entry: the apps unless shared, and always the passthrough key's hash.

    The two app names are written as a JSON array, not joined: joined by ``/``, deployment ``shop`` with
    ``x-sidecar-app: payments/x`` spelled the scope of deployment ``shop/payments`` with app ``x``.
    """
    scope = "shared" if share_across_apps else "app=" + orjson.dumps([deployment_app, app]).decode()
    if caller_key is not None:
        # surrogatepass: a key's bytes that are not UTF-8 reach here as lone surrogates (a 500 otherwise)
        scope += "|key=" + hashlib.sha256(caller_key.encode("utf-8", "surrogatepass")).hexdigest()
    return scope


def route_identity(
    route_name: str, targets: list[tuple[str, int | None]], unsupported: str, shaping: Mapping[str, Any] | None = None
) -> bytes:
    """The route's part of every key: its name, its chain (target key, output limit) and translation mode;
    ``shaping`` the rest of the policy that can change the route's answers (what it sends each provider,
    its gates, caps, ensemble...: ``plan.answer_shaping``), written only when there is some, so a plain
    chain keeps its keys."""
    chain = ",".join(f"{key}#{limit or ''}" for key, limit in targets)
    identity = f"{route_name}\0{chain}\0{unsupported}".encode()
    if shaping:
        identity += b"\0" + orjson.dumps(shaping, option=orjson.OPT_SORT_KEYS)
    return identity


def header_part(dialect: Dialect, headers: Mapping[str, str]) -> bytes:
    """The request's headers that change the answer (names lower-case, as the listener gives them; a
    multidict's repeated lines all read), as key bytes: b"" when it has none."""
    if dialect is not _ANTHROPIC:
        return b""
    betas: list[str] = []
    if "anthropic-beta" in headers:
        lines = headers.getall("anthropic-beta") if isinstance(headers, MultiMapping) else [headers["anthropic-beta"]]
        betas = sorted({name.strip() for line in lines for name in line.split(",")} - {""})
    version = headers.get("anthropic-version", ANTHROPIC_VERSION).strip()
    if not betas and version == ANTHROPIC_VERSION:
        return b""
    return orjson.dumps({"anthropic-beta": betas, "anthropic-version": version})


_ANTHROPIC = Dialect.ANTHROPIC  # a module global: an Enum member through its class is not specialized (3.11)
_DIALECT_BYTES: Mapping[Dialect, bytes] = {dialect: dialect.value.encode() for dialect in DIALECTS}
# each dialect's fields a canonical body drops and those whose whole floats it writes as integers one level down
_BODY_FIELDS: Mapping[Dialect, tuple[frozenset[str], tuple[str, ...]]] = {
    dialect: (wire(dialect).transport_fields, wire(dialect).sampling_fields) for dialect in DIALECTS
}
_SORT_KEYS = orjson.OPT_SORT_KEYS


def started_key(identity: bytes) -> hashlib.blake2b:
    """A BLAKE2b that has read a route's identity and the separator after it (``hashlib``'s object): made
    once at policy load (``plan.RouteCache``), copied by ``cache_key`` for each request."""
    return hashlib.blake2b(identity + b"\0", digest_size=32)


def cache_key(
    identity: bytes,
    dialect: Dialect,
    model: str,
    scope: str,
    canonical: bytes,
    extra: bytes = b"",
    *,
    started: hashlib.blake2b | None = None,
) -> str:
    """The store key: ``v3:`` and a hex 32-byte BLAKE2b of the parts joined by NUL bytes (Redis puts its
    ``key_prefix:`` before it); ``extra`` (the request's answer headers, ``header_part``, and the chain
    it walks on a route that chooses one per request) only when there is some; ``started``: the route's
    ``started_key(identity)``, copied (the same digest; about 1,600 instructions less than hashing the
    identity again, docs/benchmarks.md, wave 47 ``cache48``). BLAKE2b (CPython's own, no OpenSSL digest
    context to set up) costs about 6,800 instructions less a key than the SHA-256 of key version v2
    (docs/benchmarks.md, wave 44 ``cache45``, wave 45 ``cache46``)."""
    parts: tuple[bytes, ...] = (_DIALECT_BYTES[dialect], model.encode(), scope.encode(), canonical)
    if extra:
        parts += (extra,)
    if started is None:
        return _KEY_PREFIX + hashlib.blake2b(b"\0".join((identity, *parts)), digest_size=32).hexdigest()
    digest = started.copy()
    digest.update(b"\0".join(parts))
    return _KEY_PREFIX + digest.hexdigest()


_KEY_PREFIX = KEY_VERSION + ":"
