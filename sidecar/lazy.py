"""Package exports loaded on first use (PEP 562), so that importing one module of a feature package does
not load the whole package.

A policy's blocks are validated by pydantic models that live in their feature's package (``cache.spec``,
``budgets.spec``, ...): the policy's root model imports them all, for every policy. If the packages'
``__init__`` imported their request-path modules too, every sidecar would hold every feature's code in
memory (about 2-3 MB of its start-up resident memory, docs/benchmarks.md "Start-up memory") whether its
policy uses the feature or not. With ``lazy_exports`` the package's names are still importable from the
package (``from sidecar.cache import ResponseCache``); the module that defines one is imported when the
name is first read, i.e. when a policy that uses the feature is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each exported name (``homes``' key) is read from its
    submodule (the value, relative to ``package``), imported on first use."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f".{home}", package), name)

    return __getattr__
