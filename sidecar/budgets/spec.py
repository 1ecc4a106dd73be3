"""The ``budgets`` block of the policy file: limits (spend, tokens, requests) and the store they count in.

These pydantic models validate what an SRE writes; ``sidecar.budgets.compiled`` turns a validated
``BudgetsSpec`` into the immutable tables the request path reads. Layout::

    budgets:
      store: local | redis://host:6379/0 | {url, username, password, tls, timeouts, key_prefix}
      reservation_ttl_s, default_max_output_tokens, default_web_searches, headers, max_tracked_values
      limits:
        - name, measure (usd | tokens | requests), amount, window (minute | hour | day | month)
          scope: {by: global | app | route | model | provider | header | key, header, values, others}
          action: deny | downgrade | warn, downgrade_to: [cheaper models]
          soft: {at: 0.8, action: warn | downgrade, downgrade_to}
          on_store_error: open | closed

Every window is a calendar window in UTC (docs/budgets.md says why none is sliding).
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from sidecar.policy.base import CREDENTIAL_HEADERS, Spec, url_holds_password

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110 token)
_KEY_HASH = re.compile(r"[0-9a-f]{16}")
_SCOPE_VALUE_MAX = 256

DEFAULT_MAX_OUTPUT_TOKENS = 4096
"""``default_max_output_tokens`` when the block names none (and the output a call is assumed to reach
without budgets, when neither the request nor its model sets a maximum: ``server.billed``)."""


DEFAULT_WEB_SEARCHES = 5
"""``default_web_searches`` when the block names none: the searches reserved for a search tool the request
bounds not (Anthropic's web_search tool's own documentation example bounds it at 5; a search model's chat
call runs one, and OpenAI's Responses and Gemini's grounding a few queries a prompt)."""


class Measure(enum.StrEnum):
    USD = "usd"
    TOKENS = "tokens"
    REQUESTS = "requests"


class Window(enum.StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


class ScopeKind(enum.StrEnum):
    GLOBAL = "global"
    APP = "app"
    ROUTE = "route"
    MODEL = "model"
    PROVIDER = "provider"
    HEADER = "header"
    KEY = "key"


TARGET_SCOPES = frozenset({ScopeKind.MODEL, ScopeKind.PROVIDER})
"""Scopes decided by the target that serves (checked per target: a refusal skips to the next one)."""
FIXED_SCOPES = TARGET_SCOPES | {ScopeKind.GLOBAL}
"""Scopes whose value does not depend on the request (the ledger builds their counters once per window)."""


class Action(enum.StrEnum):
    DENY = "deny"
    DOWNGRADE = "downgrade"
    WARN = "warn"


class ScopeSpec(Spec):
    """Who shares one counter. Each distinct value of ``by`` has its own counter of ``amount``."""

    by: ScopeKind = Field(
        ScopeKind.GLOBAL,
        description=(
            "global: one counter for the whole deployment; app: the x-sidecar-app header or SIDECAR_APP; "
            "route: the route's name; model: the served model (a key of models); provider: the served "
            "provider (a key of providers); header: the value of request header `header`; key: the "
            "caller's API key, by its hash (16 hex digits of its SHA-256)."
        ),
    )
    header: str | None = Field(
        None,
        description="by: header only: the request header whose value is the scope (not a credential header: "
        "authorization, x-api-key, ... are counted with by: key).",
    )
    values: list[str] | None = Field(
        None,
        description=(
            "The values that get a counter each. Every other value is counted under one shared counter "
            "named 'other' (others: shared) or not limited at all (others: exempt). Unset: every value has "
            "its own counter, and metrics fold the values not named into 'other'."
        ),
    )
    others: Literal["shared", "exempt"] = Field(
        "shared", description="With values: what happens to the values not named."
    )

    @field_validator("header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is not None and not _TOKEN.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid HTTP header name")
        if value is not None and value.lower() in CREDENTIAL_HEADERS:  # a counter's name is shown: /status, 429s
            raise ValueError(
                "a credential header: its values are keys; count by the caller's key with by: key (its hash)"
            )
        return value.lower() if value is not None else None

    @field_validator("values")
    @classmethod
    def _values(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        if not values:
            raise ValueError("an empty list; leave values out to give every value its own counter")
        for value in values:
            if not value or len(value) > _SCOPE_VALUE_MAX:
                raise ValueError(f"each value must be 1 to {_SCOPE_VALUE_MAX} characters")
            if value == "other":
                raise ValueError("'other' is the name of the shared counter of the values not named")
        if len(set(values)) != len(values):
            raise ValueError("duplicate values")
        return values

    @model_validator(mode="after")
    def _consistent(self) -> ScopeSpec:
        if (self.by is ScopeKind.HEADER) != (self.header is not None):
            raise ValueError("header is required with by: header, and only with it")
        if self.by is ScopeKind.GLOBAL and self.values is not None:
            raise ValueError("by: global has no values")
        if self.by is ScopeKind.KEY and self.values is not None:
            bad = [value for value in self.values if not _KEY_HASH.fullmatch(value)]
            if bad:
                raise ValueError(
                    "by: key values are key hashes: 16 lower-case hex digits of the key's SHA-256 "
                    '(printf %s "$KEY" | sha256sum | cut -c1-16), never the key itself'
                )
        if self.values is None and self.others != "shared":
            raise ValueError("others applies only with values")
        return self


Fraction = Annotated[float, Field(gt=0, lt=1)]
ModelList = Annotated[list[str], Field(min_length=1)]


class SoftSpec(Spec):
    """An earlier threshold with its own action, e.g. downgrade at 80% before the hard limit denies."""

    at: Fraction = Field(description="Fraction of amount, e.g. 0.8.")
    action: Literal["warn", "downgrade"] = Field(description="What happens between at x amount and amount.")
    downgrade_to: ModelList | None = Field(
        None, description="action: downgrade: the cheaper models to serve from, in fallback order."
    )

    @model_validator(mode="after")
    def _targets(self) -> SoftSpec:
        _check_downgrade(self.action, self.downgrade_to)
        return self


class LimitSpec(Spec):
    """One limit: a measure counted in a window for each scope value, and what happens at the amount."""

    name: str = Field(description="Unique; shown in errors, headers, /status and metrics; part of the store key.")
    measure: Measure = Field(
        description="usd: cost from the models' prices; tokens: input + output tokens; requests: upstream calls."
    )
    amount: float = Field(
        gt=0, le=1e9, description="Allowed per window and scope value (US dollars, tokens or requests)."
    )
    window: Window = Field(description="A calendar window in UTC: minute, hour, day or month.")
    scope: ScopeSpec = Field(default_factory=ScopeSpec)
    action: Action = Field(
        Action.DENY,
        description=(
            "At the amount: deny (429, Retry-After until the window ends; for a model or provider scope: "
            "skip that target and fall back), downgrade (serve from downgrade_to; the spend still counts), "
            "or warn (serve and flag it)."
        ),
    )
    downgrade_to: ModelList | None = Field(None, description="action: downgrade: the cheaper models, in order.")
    soft: SoftSpec | None = Field(None, description="Optional earlier threshold with its own action.")
    on_store_error: Literal["open", "closed"] = Field(
        "open",
        description="When the shared store fails: open = count in this pod alone (loud metric), closed = deny.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("1-64 characters: letters, digits, '_', '.', '-', starting with a letter or digit")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LimitSpec:
        _check_downgrade(self.action, self.downgrade_to)
        if self.measure is not Measure.USD and self.amount != int(self.amount):
            raise ValueError(f"amount: a whole number of {self.measure.value}")
        if self.soft is not None and self.soft.action == "downgrade" and self.action is Action.WARN:
            raise ValueError("soft: a downgrade before a limit that only warns would never end")
        return self


def _check_downgrade(action: str, targets: list[str] | None) -> None:
    if (action == Action.DOWNGRADE) != (targets is not None):
        raise ValueError("downgrade_to is required with action: downgrade, and only with it")


class SecretSpec(Spec):
    """Where a secret comes from: exactly one of ``env`` or ``file`` (never the policy itself)."""

    env: str | None = Field(None, description="Name of an environment variable holding it.")
    file: str | None = Field(None, description="Path of a file holding it (a mounted Kubernetes secret).")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretSpec:
        if (self.env is None) == (self.file is None):
            raise ValueError("set exactly one of env, file")
        return self


class TlsSpec(Spec):
    """TLS settings for a rediss:// store (without them: the system's CAs, verified). Files are PEM."""

    ca_file: str | None = Field(None, description="CA bundle to verify the server; default: the system's.")
    cert_file: str | None = Field(None, description="Client certificate (mutual TLS).")
    key_file: str | None = Field(None, description="Client private key (mutual TLS).")
    verify: bool = Field(True, description="Verify the server's certificate and host name.")

    @model_validator(mode="after")
    def _pair(self) -> TlsSpec:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class BreakerSettings(Spec):
    """The breaker in front of the store: after failures it stops calling Redis for a while."""

    failures: int = Field(5, ge=1, le=1000, description="Failed calls (of the last 2 x failures) that open it.")
    open_s: float = Field(1.0, gt=0, le=300, description="First open period; doubles on each re-open.")
    open_max_s: float = Field(30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _ordered(self) -> BreakerSettings:
        if self.open_max_s < self.open_s:
            raise ValueError("open_max_s must be at least open_s")
        return self


class StoreSpec(Spec):
    """Where counters live: ``local`` (this process) or a Redis server shared by every pod."""

    url: str = Field("local", description="local, or redis://host:port/db, rediss:// for TLS.")
    username: str | None = Field(None, description="Redis ACL user.")
    password: SecretSpec | None = Field(None, description="Redis password, from env or file.")
    tls: TlsSpec | None = Field(None, description="TLS settings; only with a rediss:// URL.")
    timeout_ms: float = Field(50.0, gt=0, le=10_000, description="Whole call (round trip included).")
    connect_timeout_ms: float = Field(200.0, gt=0, le=30_000)
    max_connections: int = Field(16, ge=1, le=1024, description="Connection pool size per pod.")
    key_prefix: str = Field(
        "llm-sidecar", description="Keys are <prefix>:{budgets}:...; set it to keep deployments apart."
    )
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    log_interval_s: float = Field(
        60.0, gt=0, le=86_400, description="At most one budget_store_failing log line per interval while failing."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"url": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _consistent(self) -> StoreSpec:
        if self.url == "local":
            extra = [name for name in ("username", "password", "tls") if getattr(self, name) is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)}: only for a redis:// store")
            return self
        if not self.url.startswith(("redis://", "rediss://")):
            raise ValueError("url: local, redis://host:port/db or rediss://host:port/db")
        if self.tls is not None and not self.url.startswith("rediss://"):
            raise ValueError("tls: needs a rediss:// url")  # the scheme says TLS, as for the cache's store
        authority = self.url.split("://", 1)[1].split("/", 1)[0]
        if "@" in authority or url_holds_password(self.url):
            raise ValueError("url: put the user in username and the password in password.env or password.file")
        if not authority or authority.startswith(":"):
            raise ValueError("url: no host")
        if not _NAME.fullmatch(self.key_prefix):
            raise ValueError("key_prefix: 1-64 characters: letters, digits, '_', '.', '-'")
        return self

    @property
    def is_redis(self) -> bool:
        return self.url != "local"


class BudgetsSpec(Spec):
    """Spend and rate limits; see docs/budgets.md."""

    store: StoreSpec = Field(default_factory=StoreSpec, description="local (default) or a Redis server.")
    limits: list[LimitSpec] = Field(default_factory=list)
    reservation_ttl_s: float = Field(
        900.0,
        ge=10,
        le=86_400,
        description=(
            "A reservation not settled by then expires in the store (a killed pod leaks nothing longer); "
            "set it above the longest request, streams included."
        ),
    )
    default_max_output_tokens: int = Field(
        DEFAULT_MAX_OUTPUT_TOKENS,
        ge=1,
        description="Output tokens reserved when neither the request nor the model sets a maximum.",
    )
    default_web_searches: int = Field(
        DEFAULT_WEB_SEARCHES,
        ge=0,
        description="Web searches reserved, at the model's web_search_per_1k_calls, for a request that enables its "
        "provider's web search without bounding it (Anthropic's web_search tool without max_uses, OpenAI Responses' "
        "web_search tool without max_tool_calls, Gemini's google_search tool). 0: such a request reserves none.",
    )
    headers: bool = Field(False, description="Send x-sidecar-budget-* and RateLimit headers on answers.")
    max_tracked_values: int = Field(
        1000, ge=1, le=100_000, description="Scope values per limit this pod remembers for /status and metrics."
    )
