"""Process settings: command-line flags over ``SIDECAR_*`` environment variables over defaults.

These are the knobs that belong to the process, not the policy (which is hot-reloaded): where to
listen (port 0: any free port, reported as ``sidecar.ports_file`` says), where the policy lives, how
long to drain. Every variable is listed in docs/configuration.md. ``unknown_variables`` names the
``SIDECAR_*`` variables that none of them reads (a misspelt name would otherwise be ignored in silence).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

MiB = 1024 * 1024


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    policy_path: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    health_host: str = "::"  # every address, IPv6 and IPv4 (``server.every_address``)
    health_port: int | None = None
    ports_file: str = ""  # written with the bound ports once listening (port 0: sidecar.ports_file)
    health_metrics: bool = False  # also serve /metrics on the health port (for a Prometheus pod scrape)
    drain_timeout_s: float = 20.0
    max_body_bytes: int = 32 * MiB
    log_level: str = "info"
    app_name: str = ""
    reload_interval_s: float = 0.5
    upstream_connections: int = 4096  # open upstream connections, all providers together
    upstream_connections_per_host: int = 2048  # ... and to one host:port
    upstream_max_body_bytes: int = 64 * MiB  # a non-stream upstream answer past this (decoded) fails
    max_held_bytes: int | None = None  # all bodies held at once (None: a share of the memory limit, held_bytes)
    keepalive_s: float = 75.0  # an idle connection from the app is closed after this
    receive_timeout_s: float = 60.0  # most time to receive one request from the app, head and body
    max_connections: int = 4096  # open connections on the app port; one per concurrent call or stream
    health_max_connections: int = 32  # open connections on the health port (reachable from the cluster)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> Settings:
        """Settings from ``SIDECAR_<FIELD>`` variables, then ``overrides`` that are not None."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(env_name(field.name))
            if raw is None or raw == "":
                continue
            values[field.name] = _convert(field.name, raw, field.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ``SettingsError`` naming the variable (and the flag) of the first value that cannot work."""
        if not 0 <= self.port < 65536:  # 0: any free port, chosen when the listener binds
            raise SettingsError(f"SIDECAR_PORT (--port) {self.port} is out of range")
        if self.health_port is not None and not 0 <= self.health_port < 65536:
            raise SettingsError(f"SIDECAR_HEALTH_PORT (--health-port) {self.health_port} is out of range")
        if self.health_port == self.port != 0:
            raise SettingsError("the health port must differ from the proxy port")
        for name, least in LEAST_VALUES:
            value = getattr(self, name)
            if not value >= least:  # NaN fails too
                raise SettingsError(f"{env_name(name)}={value!r}: must be at least {least}")
        for name in _ABOVE_ZERO:
            value = getattr(self, name)
            if not value > 0:
                raise SettingsError(f"{env_name(name)}={value!r}: must be positive")
        if self.max_held_bytes is not None and not self.max_held_bytes >= MiB:
            raise SettingsError(f"SIDECAR_MAX_HELD_BYTES={self.max_held_bytes!r}: must be at least {MiB}")
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise SettingsError(f"SIDECAR_LOG_LEVEL={self.log_level!r} is not debug, info, warning or error")


_ENV_NAMES = {"policy_path": "SIDECAR_POLICY", "app_name": "SIDECAR_APP"}
# The least value of each numeric setting (docs/configuration.md says them), and the times above 0.
LEAST_VALUES = (
    ("drain_timeout_s", 0),
    ("max_body_bytes", 1024),
    ("upstream_max_body_bytes", 1024),
    ("upstream_connections", 1),
    ("upstream_connections_per_host", 1),
    ("max_connections", 1),
    ("health_max_connections", 1),
)
_ABOVE_ZERO = ("reload_interval_s", "keepalive_s", "receive_timeout_s")


def env_name(field: str) -> str:
    """The variable a setting is read from: ``SIDECAR_<FIELD>``, but for the policy's and the app's."""
    return _ENV_NAMES.get(field, "SIDECAR_" + field.upper())


# Read by sidecar.telemetry.config (docs/observability.md), not settings.
_TELEMETRY_VARIABLES = ("SIDECAR_CAPTURE_CONTENT", "SIDECAR_CAPTURE_CONTENT_MAX_BYTES")


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    """The ``SIDECAR_*`` variables of ``env`` that the sidecar does not read, sorted, each followed by the
    known name it is closest to when one is close: ``SIDECAR_DRAIN_TIMEOUT (SIDECAR_DRAIN_TIMEOUT_S?)``."""
    known = [env_name(f.name) for f in fields(Settings)]
    known += _TELEMETRY_VARIABLES
    unknown = sorted(n for n in env if n.startswith("SIDECAR_") and n not in known)
    if not unknown:
        return []
    import difflib  # only here: a start without a stray SIDECAR_* variable never loads it

    found = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
        found.append(f"{name} ({close[0]}?)" if close else name)
    return found


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(name: str, raw: str, kind: Any) -> Any:
    target = str(kind)
    if target == "bool":
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        variable = env_name(name)
        raise SettingsError(f"{variable}={raw!r} is not one of {', '.join(_TRUE + _FALSE)}")
    try:
        if "int" in target:
            return int(raw)
        if "float" in target:
            value = float(raw)
        else:
            return raw
    except ValueError:
        raise SettingsError(f"{env_name(name)}={raw!r} is not a number") from None
    if math.isinf(value):  # an endless reload interval or drain is never reached (NaN: ``check``)
        raise SettingsError(f"{env_name(name)}={raw!r} is not a finite number")
    return value
