"""The policy's ``passthrough`` block: which paths the sidecar does not interpret are forwarded, as sent,
to which provider (pydantic, validated at load with path-qualified errors)::

    passthrough:
      - dialect: openai            # the app's dialect (its SDK's paths and headers say it)
        provider: openai           # one provider of the policy that speaks that dialect
        paths: [/v1/audio/, /v1/moderations, /v1/files]   # path prefixes; "/v1/" forwards every one
        max_body_bytes: 536870912  # the largest request body forwarded (512 MiB), streamed

A prefix matches whole path segments (``/v1/files`` matches ``/v1/files`` and ``/v1/files/f-1/content``,
not ``/v1/filesystem``; one ending in ``/`` matches everything under it) and must lie under one of the
dialect's API roots (``API_ROOTS``), so that no prefix reaches the sidecar's own ``/healthz``,
``/readyz``, ``/status`` or ``/metrics``. What else is checked against the providers (an unknown one,
one of another dialect, a prefix listed twice) is ``table.compile_passthrough``'s.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from ..dialects import Dialect
from ..policy.base import Spec
from ..policy.names import DialectName

DEFAULT_MAX_BODY_BYTES = 512 * 1024 * 1024
"""The largest request body a passthrough forwards by default: OpenAI's file upload limit (512 MB)."""

API_ROOTS: dict[str, tuple[str, ...]] = {
    Dialect.OPENAI: ("/v1/", "/openai/"),
    Dialect.ANTHROPIC: ("/v1/",),
    Dialect.GEMINI: ("/v1/", "/v1beta/", "/v1alpha/", "/upload/", "/download/"),
}
"""Where each dialect's API lives on its provider's host: a passthrough prefix starts with one of them
(Gemini's uploads go to ``/upload/v1beta/files``, its downloads to ``/download/...``)."""

_SEGMENTS = re.compile(r"//|/\.\.?(/|$)|[?#%\\\s]")


class PassthroughSpec(Spec):
    """One dialect's paths forwarded to one provider (see the module docstring)."""

    dialect: DialectName = Field(description="The app's dialect whose unserved paths this forwards.")
    provider: str = Field(description="The provider (of the policy's providers) they go to; it speaks the dialect.")
    paths: list[str] = Field(
        min_length=1,
        description="Path prefixes forwarded, whole segments ('/v1/files' matches '/v1/files/f-1', not"
        " '/v1/filesystem'); '/v1/' forwards every path under it. Paths the sidecar serves keep their meaning.",
    )
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES,
        ge=0,
        description="The largest request body forwarded (streamed, never held whole); a larger one is a 413.",
    )

    @field_validator("paths")
    @classmethod
    def _prefixes(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.startswith("/"):
                raise ValueError(f"{path!r} must start with '/'")
            if _SEGMENTS.search(path):
                raise ValueError(
                    f"{path!r} must be a plain path: no '//', '.' or '..' segment, query, fragment, escape or space"
                )
        return paths

    @model_validator(mode="after")
    def _under_an_api_root(self) -> PassthroughSpec:
        roots = API_ROOTS.get(self.dialect, ("/v1/",))
        for i, path in enumerate(self.paths):
            if not (path + "/").startswith(roots):
                raise ValueError(
                    f"paths[{i}]: {path!r} is not under an API root of {self.dialect} ({', '.join(roots)})"
                )
        return self
