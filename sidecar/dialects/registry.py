"""The registry: every wire dialect and every provider kind, each once, and the questions asked of
all of them (which endpoints the app may call, whose 404 an unknown path gets).

``PACKAGES`` is the only list of the dialects: the names of the packages below ``sidecar.dialects``,
each of whose ``wire`` module holds its ``WireDialect`` as ``WIRE`` and the provider kinds speaking it
as ``APIS``. Adding a dialect is its package and its name here (docs/dialects.md). Everything else is
built from them at import: ``wire(dialect)``, ``provider_api(kind)`` and ``feature_walker(dialect,
operation)`` (routing's reader of a body's features, the dialect's ``WireDialect.feature_walkers``)
are dictionary lookups, and ``dialect_named`` gives a name's one dialect instance (what the policy's
validators return, so ``is`` compares them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import Dialect, Operation, ProviderKind, fake
from .base import BodyRules, Endpoint, ProviderAPI, WireDialect
from .walking import FeatureWalker

if TYPE_CHECKING:
    from ..translate.bundles import Translation

PACKAGES = ("openai", "anthropic", "gemini")
"""The dialects' packages, in the order the router tries their endpoints."""


def _load(package: str) -> tuple[WireDialect, tuple[ProviderAPI, ...]]:
    """A dialect package's ``wire.WIRE`` and ``wire.APIS``, checked."""
    module = importlib.import_module(f"{__package__}.{package}.wire")
    wire_object, apis = getattr(module, "WIRE", None), getattr(module, "APIS", None)
    if not isinstance(wire_object, WireDialect) or not isinstance(apis, tuple):
        raise TypeError(f"sidecar.dialects.{package}.wire must define WIRE (a WireDialect) and APIS (a tuple)")
    if not isinstance(getattr(wire_object, "bodies", None), BodyRules):
        raise TypeError(f"sidecar.dialects.{package}.wire.WIRE.bodies must provide the BodyRules functions")
    if not all(isinstance(api, ProviderAPI) for api in apis):
        raise TypeError(f"sidecar.dialects.{package}.wire.APIS must hold ProviderAPI objects")
    return wire_object, apis


_LOADED = tuple(_load(package) for package in PACKAGES)

WIRE_DIALECTS: Mapping[Dialect, WireDialect] = {w.dialect: w for w, _ in _LOADED}
PROVIDER_APIS: Mapping[ProviderKind, ProviderAPI] = {
    api.kind: api for api in (*(api for _, apis in _LOADED for api in apis), fake.API)
}
DIALECTS: tuple[Dialect, ...] = tuple(WIRE_DIALECTS)
"""Every dialect (the registry's instances), in ``PACKAGES`` order."""
PROVIDER_KINDS: tuple[ProviderKind, ...] = tuple(PROVIDER_APIS)
"""Every provider kind (the registry's instances)."""

FEATURE_WALKERS: Mapping[tuple[Dialect, Operation], FeatureWalker] = {
    (dialect, operation): walker
    for dialect, w in WIRE_DIALECTS.items()
    for operation, walker in w.feature_walkers.items()
}
"""Routing's feature walker of each (dialect, operation) that has one (``WireDialect.feature_walkers``)."""

TRANSLATIONS: Mapping[Dialect, Translation] = {dialect: w.translation for dialect, w in WIRE_DIALECTS.items()}
"""Each dialect's translation functions (its ``WireDialect.translation``)."""

ENDPOINTS: tuple[Endpoint, ...] = tuple(e for w in WIRE_DIALECTS.values() for e in w.endpoints)
"""Every path the app may call, in the order the router tries them."""

UNKNOWN_PATH_DIALECT = Dialect.OPENAI
"""The dialect of the 404 for a path no other dialect claims (most tools and SDKs speak OpenAI's)."""

_DIALECT_NAMED: Mapping[str, Dialect] = {str(d): d for d in DIALECTS}
_CLAIMANTS = tuple(w for d, w in WIRE_DIALECTS.items() if d != UNKNOWN_PATH_DIALECT)


wire: Callable[[Dialect], WireDialect] = WIRE_DIALECTS.__getitem__
"""The object of a dialect: the mapping's own lookup, a C call (a function around it was a Python call,
made six times a plain request)."""


def feature_walker(dialect: Dialect, operation: Operation) -> FeatureWalker | None:
    """The walker reading routing's features from a body of ``dialect`` and ``operation``, or None."""
    return FEATURE_WALKERS.get((dialect, operation))


def provider_api(kind: ProviderKind) -> ProviderAPI:
    """The object of provider kind ``kind``."""
    return PROVIDER_APIS[kind]


def dialect_named(name: object) -> Dialect:
    """The registry's instance of the dialect called ``name``; ValueError when there is none."""
    found = _DIALECT_NAMED.get(name) if isinstance(name, str) else None
    if found is None:
        raise ValueError(f"{name!r} is not a dialect (one of: {', '.join(_DIALECT_NAMED)})")
    return found


def dialect_of_path(path: str, headers: Mapping[str, str] | None = None) -> Dialect:
    """Best guess of the caller's dialect for a path the sidecar does not serve (to shape the 404):
    the first other dialect that claims it (Anthropic's paths and headers, Gemini's prefixes...), else
    ``UNKNOWN_PATH_DIALECT``."""
    for claimant in _CLAIMANTS:
        if claimant.claims_path(path, headers):
            return claimant.dialect
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
