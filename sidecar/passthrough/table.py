"""The compiled ``passthrough`` block: per dialect, its prefixes longest first, each with where it goes.

``compile_passthrough(specs, providers, errors)`` checks what the spec alone cannot (the provider named
exists and speaks the dialect; a prefix is listed once per dialect) with the block's paths
(``passthrough[1].provider: unknown provider 'opnai'``) and returns a ``PassthroughTable``, or None when
the block is empty. ``PassthroughTable.find(dialect, path)`` is the one lookup a request the path table
does not serve pays: the dialect's prefixes, longest first, tested against the path.

``PassthroughTable.explain`` is what ``llm-sidecar explain`` says of a path it forwards.

``PassRoute.url(path, query)`` is the provider's URL of a path as the app sent it, its base worked out
once per entry (``upstream_base``): OpenAI's ``base_url`` holds its ``/v1``, so the app's ``/v1`` is not
repeated (the ``/v1`` is taken off the base; a base without it gets the path as it is);
Azure's resources serve OpenAI's paths under ``/openai`` (its ``v1`` surface: ``/openai/v1/files``); every
other kind serves the app's path from its ``base_url`` (Anthropic's and Gemini's hosts, the fake's root).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..dialects import Dialect, ProviderKind
from ..dialects.registry import dialect_of_path
from ..policy.compiled import Provider
from .spec import PassthroughSpec


@dataclass(frozen=True, slots=True)
class PassRoute:
    """Where one dialect's paths under ``prefix`` go: ``provider``, at ``base`` (``upstream_base``)."""

    dialect: Dialect
    prefix: str
    provider: Provider
    max_body_bytes: int
    base: str  # the provider's URL the app's path is put on
    under: str  # the start a path is given when it lacks it (Azure's "/openai", else "")

    def url(self, path: str, query: str) -> str:
        """The provider's URL of the app's ``path`` and ``query`` (its raw query string, "" for none)."""
        under = self.under
        url = self.base + (under if under and not path.startswith(under + "/") else "") + path
        return f"{url}?{query}" if query else url


def upstream_base(provider: Provider) -> tuple[str, str]:
    """``PassRoute``'s ``base`` and ``under`` for ``provider`` (see the module docstring)."""
    if provider.kind is ProviderKind.OPENAI and urlsplit(provider.base_url).path.endswith("/v1"):
        return provider.base_url[: -len("/v1")], ""
    if provider.kind is ProviderKind.AZURE_OPENAI:
        return provider.base_url, "/openai"
    return provider.base_url, ""


class PassthroughTable:
    """Every dialect's passthrough prefixes, longest first (see the module docstring)."""

    __slots__ = ("_by_dialect",)

    def __init__(self, routes: Sequence[PassRoute]) -> None:
        by_dialect: dict[Dialect, list[PassRoute]] = {}
        for route in routes:
            by_dialect.setdefault(route.dialect, []).append(route)
        self._by_dialect: Mapping[Dialect, tuple[PassRoute, ...]] = {
            dialect: tuple(sorted(each, key=lambda route: -len(route.prefix))) for dialect, each in by_dialect.items()
        }

    def find(self, dialect: Dialect, path: str) -> PassRoute | None:
        """The route of ``path`` (without its query) for an app of ``dialect``, or None: not forwarded."""
        for route in self._by_dialect.get(dialect, ()):
            prefix = route.prefix
            if path.startswith(prefix) and (len(path) == len(prefix) or prefix[-1] == "/" or path[len(prefix)] in "/:"):
                return route
        return None

    def explain(self, method: str, path: str, headers: Mapping[str, str]) -> str | None:
        """What ``llm-sidecar explain`` says of ``method path`` (its query left out) when it is forwarded,
        None when it is not (the path's dialect guessed as the server guesses it)."""
        path = path.split("?", 1)[0]
        route = self.find(dialect_of_path(path, headers), path)
        if route is None:
            return None
        return (
            f"{method} {path} is forwarded as sent to provider {route.provider.name!r} (passthrough of"
            f" {route.dialect} {route.prefix}): no route, translation, cache, budget or cost (docs/api.md, Passthrough)"
        )

    def routes(self) -> list[PassRoute]:
        """Every route, by dialect, longest prefix first (``llm-sidecar diff``)."""
        return [route for routes in self._by_dialect.values() for route in routes]


def compile_passthrough(
    specs: Sequence[PassthroughSpec], providers: Mapping[str, Provider], errors: list[str]
) -> PassthroughTable | None:
    """The table of ``specs`` (the policy's ``passthrough``); problems appended to ``errors`` with their
    paths. None when nothing is forwarded."""
    routes: list[PassRoute] = []
    seen: dict[tuple[Dialect, str], str] = {}
    for i, spec in enumerate(specs):
        where = f"passthrough[{i}]"
        provider = providers.get(spec.provider)
        if provider is None:
            errors.append(f"{where}.provider: unknown provider {spec.provider!r} (providers: {', '.join(providers)})")
            continue
        spoken = provider.wire_dialect(spec.dialect)
        if spoken is not spec.dialect:
            errors.append(
                f"{where}.provider: provider {spec.provider!r} speaks {spoken}, not {spec.dialect}: a passthrough"
                " forwards the app's request as it is, untranslated"
            )
            continue
        base, under = upstream_base(provider)
        for j, prefix in enumerate(spec.paths):
            first = seen.setdefault((spec.dialect, prefix), f"{where}.paths[{j}]")
            if first != f"{where}.paths[{j}]":
                errors.append(f"{where}.paths[{j}]: {prefix!r} is already listed for {spec.dialect} at {first}")
                continue
            routes.append(PassRoute(spec.dialect, prefix, provider, spec.max_body_bytes, base, under))
    return PassthroughTable(routes) if routes else None
