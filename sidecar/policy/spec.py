"""The policy file's schema: pydantic models of exactly what an SRE may write, nothing more.

These models validate the YAML/JSON document and produce the JSON Schema committed at
``policies/policy.schema.json``. They are not used on the request path: ``compile`` turns a validated
``PolicySpec`` into the immutable, pre-computed ``Policy`` that requests read.

Document layout::

    version: 1
    defaults:     settings every route inherits (resilience, translation)
    providers:    name -> where and how to call an upstream API
    models:       logical name -> provider + upstream model id + metadata (context, price, ...)
    routes:       ordered rules: match -> target (a model, a fallback chain, a cheapest selection),
                  split or deny
    default:      the route used when no rule matches (optional)
    routing:      task classes, complexity, tiers, learned router (``sidecar.routing.spec``; optional)
    cache:        the response cache's store (optional; routes turn caching on, docs/caching.md)
    access_log:   the share of access lines written, and what is always kept (``policy.access_log``; optional)
    passthrough:  paths the sidecar does not interpret, forwarded as sent to a provider (``passthrough``;
                  optional, none by default)
"""

from __future__ import annotations

import enum
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, ConfigDict, Field, field_validator, model_validator

from ..cache.spec import CacheStoreSpec, RouteCacheSpec
from ..dialects import ProviderKind
from ..ensemble.spec import EnsembleSpec
from ..gates.spec import GatesSpec
from ..passthrough.spec import PassthroughSpec
from ..routing.spec import CapsSpec, FeatureTests, QualitySpec, RoutingSpec, SelectSpec, SplitSpec
from ..shadow.spec import ShadowSpec
from .access_log import AccessLogSpec, RouteAccessLogSpec
from .base import CREDENTIAL_HEADERS, HeaderSafe
from .base import Spec as _Spec
from .names import DialectName, ProviderKindName
from .prices import PriceSpec as PriceSpec  # re-exported: the models and the budgets import it from here
from .resilience_spec import BreakerSpec, BulkheadSpec, ResilienceSpec, RetryBudgetSpec, TimeoutsSpec

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110 token)


class ApiKeySpec(_Spec):
    """Where the provider's key comes from: exactly one of ``env``, ``file`` or ``passthrough``."""

    env: str | None = Field(None, description="Name of an environment variable holding the key.")
    file: str | None = Field(
        None, description="Path of a file holding the key; re-read when it changes (secret rotation)."
    )
    passthrough: bool = Field(False, description="Forward the key the app sent instead of injecting one.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ApiKeySpec:
        chosen = [
            name for name, on in (("env", self.env), ("file", self.file), ("passthrough", self.passthrough)) if on
        ]
        if len(chosen) != 1:
            raise ValueError("set exactly one of env, file, passthrough")
        return self


class TLSSpec(_Spec):
    """TLS to one provider: the CAs to trust, and the client certificate to show (mutual TLS).

    The files are read when the provider is first called and re-read when they change (Secret
    rotation), like ``api_key: {file: ...}``.
    """

    ca_bundle: str | None = Field(
        None,
        description="PEM file of the CAs to trust for this provider, instead of the system store "
        "(a private CA, or a TLS-inspecting egress proxy's CA).",
    )
    client_cert: str | None = Field(
        None, description="PEM file of the client certificate (and its chain) for mutual TLS; may also hold the key."
    )
    client_key: str | None = Field(
        None, description="PEM file of the client certificate's private key (unencrypted), when not in client_cert."
    )

    @model_validator(mode="after")
    def _something_and_a_cert_for_the_key(self) -> TLSSpec:
        if not (self.ca_bundle or self.client_cert):
            raise ValueError("set ca_bundle, client_cert, or both")
        if self.client_key and not self.client_cert:
            raise ValueError("client_key needs client_cert")
        return self


DEPRECATED_PROVIDER_FIELDS = {"dialect": "kind"}
"""Old provider field names still read (``load`` warns): old name -> new name."""


def _schema_with_deprecated_names(schema: dict[str, Any]) -> None:
    """The JSON Schema accepts ``dialect`` as the deprecated name of ``kind`` (editors flag it so)."""
    properties = schema["properties"]
    for old, new in DEPRECATED_PROVIDER_FIELDS.items():
        properties[old] = {**properties[new], "deprecated": True, "description": f"Deprecated name of {new}."}
        schema["required"] = [name for name in schema["required"] if name != new]
        schema["oneOf"] = [{"required": [new]}, {"required": [old]}]


class ProviderSpec(_Spec):
    model_config = ConfigDict(json_schema_extra=_schema_with_deprecated_names)

    kind: ProviderKindName = Field(
        validation_alias=AliasChoices("kind", "dialect"),  # "dialect": the deprecated name, still read
        description="The kind of API: its dialect, URLs and key header (openai covers OpenAI-compatible servers).",
    )
    base_url: str = Field(
        description="OpenAI: up to and including /v1. Anthropic, Gemini, Azure, fake: the server root. "
        "No user or password in it (the key goes in api_key)."
    )
    api_key: ApiKeySpec | None = Field(None, description="Credentials; none for keyless servers.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers sent upstream.")
    timeouts: TimeoutsSpec = Field(default_factory=TimeoutsSpec)
    api_version: str | None = Field(None, description="Azure OpenAI api-version query parameter.")
    speaks: DialectName | None = Field(
        None, description="kind: fake only: the dialect to speak to it; default: the caller's dialect."
    )
    proxy: str | None = Field(
        None,
        description="An http:// proxy to reach this provider through (CONNECT for https), or 'none' for a "
        "direct connection; unset: HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment.",
    )
    tls: TLSSpec | None = Field(None, description="CA bundle and client certificate (https base_url only).")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if "@" in urlsplit(value).netloc:  # never quoted: the error is logged and shown in /status
            raise ValueError("must not hold a user or password: the policy is not a secret (a key goes in api_key)")
        return value.rstrip("/")

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value is None or value == "none":
            return value
        parts = urlsplit(value)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("must be 'none' or an http://host:port URL (the tunnel to an https provider is still TLS)")
        if parts.username or parts.password:
            raise ValueError("proxy credentials belong in HTTPS_PROXY / HTTP_PROXY (from a Secret), not the policy")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("a proxy URL is scheme, host and port only")
        return value

    @model_validator(mode="after")
    def _kind_specific(self) -> ProviderSpec:
        if self.kind is ProviderKind.AZURE_OPENAI and not self.api_version:
            raise ValueError("azure-openai needs api_version")
        if self.speaks and self.kind is not ProviderKind.FAKE:
            raise ValueError("speaks is only for kind: fake")
        if self.tls is not None and not self.base_url.startswith("https://"):
            raise ValueError("tls needs an https:// base_url")
        lowered = {name.lower() for name in self.headers}
        if lowered & CREDENTIAL_HEADERS:
            raise ValueError("put credentials in api_key, not headers (the policy is not a secret: diff prints them)")
        for name, value in self.headers.items():
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"headers: {name!r} is not a valid HTTP header name")
            if "\r" in value or "\n" in value or "\0" in value:
                raise ValueError(f"headers: the value of {name!r} contains a line break or NUL")
        return self


class Capability(enum.StrEnum):
    CHAT = "chat"
    VISION = "vision"
    TOOLS = "tools"
    JSON = "json"
    EMBEDDINGS = "embeddings"
    STREAMING = "streaming"
    THINKING = "thinking"
    AUDIO = "audio"  # audio input parts (routing: a request with audio needs it)


class ModelSpec(_Spec):
    provider: str = Field(description="A key of providers.")
    model: HeaderSafe = Field(description="The upstream model id (Azure: the deployment name).")
    context_window: int | None = Field(None, gt=0, description="Input+output tokens the model accepts.")
    max_output_tokens: int | None = Field(
        None, gt=0, description="Default max_tokens when the target requires one (Anthropic)."
    )
    capabilities: frozenset[Capability] = Field(
        default_factory=lambda: frozenset({Capability.CHAT, Capability.STREAMING})
    )
    price: PriceSpec | None = None
    quality: QualitySpec | None = Field(
        None, description="Routing: the model's quality tier, and per task class where it differs."
    )


class StreamsSpec(_Spec):
    validate_events: bool = Field(
        False,
        description=(
            "Parse every event of a stream relayed in the app's own dialect, so that one that is not JSON ends"
            " the app's stream with an error event its SDK raises as an API error; off: after the first content"
            " only events that do not begin and end as a JSON object are (about 20 % more instructions per"
            " event when on; docs/translation.md)."
        ),
    )


class DefaultsSpec(_Spec):
    resilience: ResilienceSpec = Field(default_factory=ResilienceSpec)
    breaker: BreakerSpec = Field(default_factory=BreakerSpec, description="Per target (provider + model).")
    retry_budget: RetryBudgetSpec = Field(default_factory=RetryBudgetSpec, description="Per target.")
    bulkhead: BulkheadSpec = Field(default_factory=BulkheadSpec, description="Per target.")
    unsupported_params: Literal["error", "drop"] = Field(
        "error", description="A parameter the target dialect lacks: answer 400 naming it, or drop it."
    )
    cache: RouteCacheSpec = Field(
        default_factory=RouteCacheSpec, description="The response cache, per route (docs/caching.md); off by default."
    )
    streams: StreamsSpec = Field(default_factory=StreamsSpec, description="How streams are relayed, for every route.")


StringOrList = str | list[str]


class MatchSpec(_Spec):
    """All given conditions must hold. Strings are exact or shell globs (``gpt-4*``)."""

    model: StringOrList | None = Field(None, description="The model the app asked for.")
    headers: dict[str, StringOrList] | None = Field(None, description="Request header name -> value glob(s).")
    app: StringOrList | None = Field(None, description="The calling app: x-sidecar-app header or SIDECAR_APP.")
    dialect: list[DialectName] | None = None
    operation: list[Literal["chat", "text_completion", "embeddings", "responses", "count_tokens"]] | None = None
    task: StringOrList | None = Field(None, description="Routing: the request's task class (needs routing).")
    complexity: StringOrList | None = Field(None, description="Routing: the request's complexity level.")
    features: FeatureTests | None = Field(None, description="Routing: tests over the request's features.")


class DenySpec(_Spec):
    message: str
    status: int = Field(403, ge=400, le=599)


class RouteSpec(_Spec):
    name: HeaderSafe | None = Field(None, description="Shown in headers, logs and metrics; default route-N.")
    match: MatchSpec = Field(default_factory=MatchSpec, description="Empty: matches every request.")
    target: StringOrList | SelectSpec | None = Field(
        None,
        description="A model name, an ordered fallback chain of model names, or {select: cheapest, from: [...]}.",
    )
    split: SplitSpec | None = Field(None, description="Weighted arms (canary), sticky by a key; instead of target.")
    deny: DenySpec | None = None
    ensemble: EnsembleSpec | None = Field(
        None, description="Ask 2-5 members in parallel and combine their answers (docs/ensembles.md)."
    )
    gates: GatesSpec | None = Field(
        None, description="Check every answer; escalate one that fails (docs/ensembles.md)."
    )
    shadow: ShadowSpec | None = Field(
        None, description="Also ask candidate models a sampled share of requests, in the background."
    )
    caps: CapsSpec | None = Field(None, description="Ceilings on output tokens (clamped) and estimated input tokens.")
    resilience: ResilienceSpec | None = None
    unsupported_params: Literal["error", "drop"] | None = None
    cache: RouteCacheSpec | None = Field(None, description="Over defaults.cache, field by field (docs/caching.md).")
    access_log: RouteAccessLogSpec | None = Field(
        None, description="This route's share of access lines written, over access_log.sample (docs/logs.md)."
    )

    @model_validator(mode="after")
    def _target_or_deny(self) -> RouteSpec:
        if sum(value is not None for value in (self.target, self.split, self.ensemble, self.deny)) != 1:
            raise ValueError("set exactly one of target, split, ensemble, deny")
        if self.deny is not None and (self.gates is not None or self.shadow is not None):
            raise ValueError("a deny route calls no model: gates and shadow do not apply")
        if isinstance(self.target, list) and not self.target:
            raise ValueError("target: an empty chain")
        return self


# The feature packages' blocks: imported here, after the blocks they refer to (``budgets`` prices models).
from ..budgets.spec import BudgetsSpec  # noqa: E402


class PolicySpec(_Spec):
    version: Literal[1] = 1
    defaults: DefaultsSpec = Field(default_factory=DefaultsSpec)
    providers: dict[HeaderSafe, ProviderSpec]
    models: dict[HeaderSafe, ModelSpec]
    routes: list[RouteSpec] = Field(default_factory=list)
    default: RouteSpec | None = Field(None, description="Used when no route matches; must not have match.")
    budgets: BudgetsSpec | None = Field(None, description="Spend and rate limits (docs/budgets.md).")
    routing: RoutingSpec | None = Field(
        None, description="Task classes, complexity levels, tiers and the learned router (docs/routing.md)."
    )
    cache: CacheStoreSpec | None = Field(
        None, description="The response cache's store (memory by default, or Redis); docs/caching.md."
    )
    access_log: AccessLogSpec | None = Field(
        None, description="Which access lines are written: a sampled share, and what is always kept (docs/logs.md)."
    )
    passthrough: list[PassthroughSpec] = Field(
        default_factory=list,
        description="Paths the sidecar does not interpret, forwarded as sent to one provider per dialect"
        " (docs/api.md, Passthrough); none by default: such paths are a 404.",
    )
