"""The policy's names of dialects and provider kinds, as pydantic types read from the registry.

``DialectName`` and ``ProviderKindName`` are ``Dialect`` and ``ProviderKind`` to mypy; pydantic checks
a value against the names ``dialects.registry`` holds (its error lists them, as an enum's does) and
gives back the registry's instance. Their JSON Schema is an ``enum`` of those names, so the schema
``llm-sidecar schema`` writes follows the registry: a dialect added there is accepted here, with no
edit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from ..dialects import Dialect, ProviderKind
from ..dialects.registry import DIALECTS, PROVIDER_KINDS


class _OneOf:
    """Pydantic metadata: the value is one of ``names`` (str -> the registry's instance)."""

    def __init__(self, instances: tuple[str, ...]) -> None:
        self._by_name: Mapping[str, str] = {str(name): name for name in instances}

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        instance: Callable[[str], str] = self._by_name.__getitem__
        return core_schema.no_info_after_validator_function(instance, core_schema.literal_schema(list(self._by_name)))


DialectName = Annotated[Dialect, _OneOf(DIALECTS)]
"""A dialect's name in the policy (``match.dialect``, a fake provider's ``speaks``)."""

ProviderKindName = Annotated[ProviderKind, _OneOf(PROVIDER_KINDS)]
"""A provider's ``kind``."""
