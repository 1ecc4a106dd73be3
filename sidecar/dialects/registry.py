"""The registry: every wire dialect and every provider kind, each once, and the questions asked of
all of them (which endpoints the app may call, whose 404 an unknown path gets).

``wire(dialect)`` and ``provider_api(kind)`` are dictionary lookups; the dictionaries are built at
import from the exhaustive matches below, so a member added to ``Dialect`` or ``ProviderKind`` without
its object here fails the type check (``assert_never``) instead of borrowing another's behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, assert_never

from . import Dialect, ProviderKind, fake
from .anthropic import wire as anthropic
from .base import Endpoint, ProviderAPI, WireDialect
from .gemini import wire as gemini
from .openai import wire as openai

if TYPE_CHECKING:
    from ..translate.bundles import Translation


def _wire_of(dialect: Dialect) -> WireDialect:
    match dialect:
        case Dialect.OPENAI:
            return openai.WIRE
        case Dialect.ANTHROPIC:
            return anthropic.WIRE
        case Dialect.GEMINI:
            return gemini.WIRE
        case _:
            assert_never(dialect)


def _api_of(kind: ProviderKind) -> ProviderAPI:
    match kind:
        case ProviderKind.OPENAI:
            return openai.API
        case ProviderKind.AZURE_OPENAI:
            return openai.AZURE_API
        case ProviderKind.ANTHROPIC:
            return anthropic.API
        case ProviderKind.GEMINI:
            return gemini.API
        case ProviderKind.FAKE:
            return fake.API
        case _:
            assert_never(kind)


WIRE_DIALECTS: Mapping[Dialect, WireDialect] = {dialect: _wire_of(dialect) for dialect in Dialect}
PROVIDER_APIS: Mapping[ProviderKind, ProviderAPI] = {kind: _api_of(kind) for kind in ProviderKind}

TRANSLATIONS: Mapping[Dialect, Translation] = {dialect: w.translation for dialect, w in WIRE_DIALECTS.items()}
"""Each dialect's translation functions (its ``WireDialect.translation``)."""

ENDPOINTS: tuple[Endpoint, ...] = tuple(e for w in WIRE_DIALECTS.values() for e in w.endpoints)
"""Every path the app may call, in the order the router tries them."""

UNKNOWN_PATH_DIALECT = Dialect.OPENAI
"""The dialect of the 404 for a path no dialect claims (most tools and SDKs speak OpenAI's)."""


def wire(dialect: Dialect) -> WireDialect:
    """The object of ``dialect``."""
    return WIRE_DIALECTS[dialect]


def provider_api(kind: ProviderKind) -> ProviderAPI:
    """The object of provider kind ``kind``."""
    return PROVIDER_APIS[kind]


def dialect_of_path(path: str, headers: Mapping[str, str] | None = None) -> Dialect:
    """Best guess of the caller's dialect for a path the sidecar does not serve (to shape the 404):
    the first dialect that claims it (Gemini's prefixes, then Anthropic's), else ``UNKNOWN_PATH_DIALECT``."""
    for dialect in (Dialect.GEMINI, Dialect.ANTHROPIC):
        if WIRE_DIALECTS[dialect].claims_path(path, headers):
            return dialect
    return UNKNOWN_PATH_DIALECT


def find_endpoint(path: str) -> tuple[Endpoint, str] | None:
    """The endpoint serving ``path`` (query string excluded) and its path parameter, or None."""
    for endpoint in ENDPOINTS:
        param = endpoint.match(path)
        if param is not None:
            return endpoint, param
    return None


def error_body(
    dialect: Dialect, status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The JSON error body a client of ``dialect`` expects for ``status`` (``Translation.error_body``)."""
    return WIRE_DIALECTS[dialect].translation.error_body(status, message, code=code, param=param)
