"""The cache's blocks of the policy file (docs/caching.md has an annotated example of every field).

Two blocks, meant to sit at two places of ``PolicySpec`` once the cache is wired into the request path:

- ``CacheStoreSpec`` (top-level ``cache:``): where entries live. In-process memory by default, bounded
  by entries and bytes; Redis when ``redis`` is set (shared by every sidecar pointing at it). The
  operation timeout, the breaker on the store and the log interval apply to Redis (memory cannot fail).
- ``RouteCacheSpec`` (``defaults.cache`` and each route's ``cache:``, merged field by field like
  ``resilience``): whether a route caches, for how long, which requests, the stale window the last
  resort ``kind: cache`` may use, and what may be stored or shared.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from ..policy.base import Spec, url_holds_password

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


class SecretSourceSpec(Spec):
    """Where a secret comes from: exactly one of ``env`` or ``file`` (never the policy itself)."""

    env: str | None = Field(None, description="Name of an environment variable holding the secret.")
    file: str | None = Field(None, description="Path of a file holding the secret (a mounted Secret).")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretSourceSpec:
        if (self.env is None) == (self.file is None):
            raise ValueError("set exactly one of env, file")
        return self


class RedisTlsSpec(Spec):
    """TLS towards Redis (``rediss://`` URLs). Without this block the system's CAs verify the server."""

    ca_file: str | None = Field(None, description="PEM bundle of the CAs that sign the server's certificate.")
    cert_file: str | None = Field(None, description="Client certificate (PEM), for servers that ask for one.")
    key_file: str | None = Field(None, description="The client certificate's private key (PEM).")
    verify: bool = Field(True, description="Check the server's certificate and host name. Never off in production.")

    @model_validator(mode="after")
    def _pair(self) -> RedisTlsSpec:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("set cert_file and key_file together")
        return self


class RedisStoreSpec(Spec):
    """A Redis server (or a managed Redis/Valkey) shared by every sidecar that names it."""

    url: str = Field(
        description="redis://host:port/db or rediss://... (TLS). A user name may be in the URL; a password may not."
    )
    password: SecretSourceSpec | None = Field(None, description="The password (or ACL user's password).")
    tls: RedisTlsSpec | None = Field(None, description="TLS settings; only with a rediss:// URL.")
    connect_timeout_s: float = Field(0.5, gt=0, le=30, description="TCP (and TLS) connect to Redis.")
    timeout_s: float = Field(
        0.1, gt=0, le=10, description="Longest wait for one cache operation; past it the lookup is a miss."
    )
    max_connections: int = Field(64, ge=1, le=10_000, description="Connection pool size of this sidecar.")
    key_prefix: str = Field(
        "llm-sidecar", min_length=1, max_length=100, description="Namespace of this cache's keys in Redis."
    )

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError("must start with redis:// or rediss://")
        if not parts.hostname:
            raise ValueError("names no host")
        if url_holds_password(value):
            raise ValueError("must not hold a password (URLs are logged and shown): use password.env or password.file")
        try:
            parts.port  # noqa: B018 - raises ValueError on a port out of range
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ValueError("the path must be a database number (/0)")
        return value

    @model_validator(mode="after")
    def _tls_needs_rediss(self) -> RedisStoreSpec:
        if self.tls is not None and not self.url.startswith("rediss://"):
            raise ValueError("tls: needs a rediss:// url")
        return self


class MemoryStoreSpec(Spec):
    """The in-process store: least recently used entries go first when either bound is reached."""

    max_entries: int = Field(10_000, ge=1, le=10_000_000, description="Most entries held.")
    max_bytes: int = Field(
        32 * MiB,
        ge=64 * KiB,
        le=64 * GiB,
        description="Most bytes held: each entry's stored size plus its key and a fixed bookkeeping cost.",
    )


class CacheBreakerSpec(Spec):
    """The breaker on the Redis store: while open, every lookup is a miss without a network call."""

    window_size: int = Field(20, ge=1, le=1000, description="The last N operations decide.")
    minimum_calls: int = Field(5, ge=1, le=1000, description="No decision before N operations.")
    failure_rate: float = Field(0.5, gt=0, le=1, description="Opens at this share of failed operations.")
    open_s: float = Field(5.0, gt=0, le=600, description="First open period; doubles on each re-open.")
    open_max_s: float = Field(60.0, gt=0, le=3600)


class CacheStoreSpec(Spec):
    """The top-level ``cache:`` block: the store every caching route uses."""

    memory: MemoryStoreSpec = Field(default_factory=MemoryStoreSpec, description="Used when redis is not set.")
    redis: RedisStoreSpec | None = Field(None, description="Store entries in Redis instead of this process.")
    max_entry_bytes: int = Field(
        1 * MiB, ge=1 * KiB, le=512 * MiB, description="Answers larger than this (stored size) are not stored."
    )
    breaker: CacheBreakerSpec = Field(default_factory=CacheBreakerSpec)
    log_interval_s: float = Field(60.0, gt=0, le=86400, description="At most one log line per interval while failing.")


class RouteCacheSpec(Spec):
    """Per route (``defaults.cache``, then a route's ``cache:`` over it, field by field)."""

    enabled: bool = Field(False, description="Look answers up in the cache and store new ones.")
    ttl_s: float = Field(3600.0, gt=0, le=30 * 86400, description="An entry answers as a hit for this long.")
    cacheable: Literal["deterministic", "always"] = Field(
        "deterministic",
        description="deterministic: only requests with temperature 0 or a seed; always: every request.",
    )
    stale_s: float = Field(
        0.0,
        ge=0,
        le=30 * 86400,
        description=(
            "How long past ttl_s an entry may still answer: when every target failed (last_resort: cache), or"
            " when the app's Cache-Control: max-stale takes it (client_control)."
        ),
    )
    store_truncated: bool = Field(
        False, description="Also store answers cut by the output limit (finish_reason length / max_tokens)."
    )
    share_across_apps: bool = Field(
        False, description="Apps (x-sidecar-app, SIDECAR_APP) share entries. Never across passthrough API keys."
    )
    single_flight_wait_s: float = Field(
        30.0,
        ge=0,
        le=600,
        description="Identical concurrent requests wait this long for the first one's answer; 0: each calls.",
    )
    client_control: bool = Field(
        True,
        description=(
            "Honour the app's Cache-Control (no-cache, no-store, max-age, min-fresh, max-stale) and"
            " x-sidecar-cache: bypass|refresh."
        ),
    )
