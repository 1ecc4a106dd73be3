"""Where a sidecar's start-up memory goes: the Python memory each imported module's own code took (its
import minus the imports it triggered), by package, for the start-up of ``llm-sidecar run`` on a policy.

The sidecar is built as ``llm-sidecar run`` builds it (settings, logging, policy, telemetry from the
environment, the app with its pipeline and upstream client), without listening. Memory is what
``tracemalloc`` sees (Python objects: code, classes, module dicts, pydantic's Python side); memory
outside Python's allocator (pydantic-core's validators, OpenSSL, uvloop) and the shared libraries'
pages are not in it: ``bench/startup_memory.py`` measures the whole process.

    python bench/import_memory.py [--policy FILE] [--top 30] [--modules 40]

Without ``--policy``: the policy ``bench/proxy_bench.py`` uses (no feature block).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.abc
import os
import sys
import tempfile
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from sidecar_under_test import sidecar_policy


class Measured(importlib.abc.MetaPathFinder):
    """Wraps every module's ``exec_module`` to record the memory its import took, with and without the
    imports it started."""

    def __init__(self) -> None:
        self.total: dict[str, int] = {}
        self.children: Counter[str] = Counter()
        self._stack: list[str] = []

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            loader = spec.loader
            if loader is not None and hasattr(loader, "exec_module"):
                run = loader.exec_module

                def exec_module(module: ModuleType, run: Any = run, name: str = name) -> None:
                    self._stack.append(name)
                    before = tracemalloc.get_traced_memory()[0]
                    try:
                        run(module)
                    finally:
                        self._stack.pop()
                        took = tracemalloc.get_traced_memory()[0] - before
                        self.total[name] = took
                        if self._stack:
                            self.children[self._stack[-1]] += took

                # a loader that does not take it: its module is counted in its parent's
                with contextlib.suppress(AttributeError, TypeError):
                    loader.exec_module = exec_module  # type: ignore[method-assign]
            return spec
        return None

    def own(self) -> dict[str, int]:
        return {name: took - self.children[name] for name, took in self.total.items()}


def group(name: str) -> str:
    """The top-level package, or ``sidecar.<package>`` for the sidecar's own modules."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "sidecar" else parts[0]


def build(policy: Path) -> None:
    """The sidecar as ``llm-sidecar run`` builds it, without listening."""
    from sidecar import __version__
    from sidecar.policy.load import load_policy
    from sidecar.server.app import SidecarApp, build_state
    from sidecar.settings import Settings
    from sidecar.telemetry import Telemetry
    from sidecar.telemetry.logging import configure_logging

    async def main() -> None:
        settings = Settings.from_env(os.environ, policy_path=str(policy), host=None, port=None, health_port=None)
        output = configure_logging(settings.log_level)
        telemetry = Telemetry.from_env(os.environ, service_version=__version__)
        state = build_state(settings, load_policy(settings.policy_path), telemetry, os.environ, output)
        app = SidecarApp(state)
        await app.close()

    asyncio.run(main())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", type=Path)
    parser.add_argument("--top", type=int, default=30, help="packages listed")
    parser.add_argument("--modules", type=int, default=40, help="modules listed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        policy = args.policy or sidecar_policy(Path(tmp), 9, "chain")
        measured = Measured()
        tracemalloc.start()
        sys.meta_path.insert(0, measured)
        import sidecar.cli  # noqa: F401 - what ``python -m sidecar`` imports first

        build(policy)
        sys.meta_path.remove(measured)
        held = tracemalloc.get_traced_memory()[0]
    own = measured.own()
    by_group: Counter[str] = Counter()
    for name, took in own.items():
        by_group[group(name)] += took
    sidecar_total = sum(v for k, v in by_group.items() if k == "sidecar" or k.startswith("sidecar."))
    print(f"Python memory held after start-up (tracemalloc): {held / 1e6:.2f} MB; {len(own)} modules imported")
    print(f"(not counting those imported before); the sidecar's own: {sidecar_total / 1e6:.2f} MB\n")
    print("| package | own modules' memory (MB) |\n|---|---|")
    for name, took in by_group.most_common(args.top):
        print(f"| {name} | {took / 1e6:.2f} |")
    print("\n| module | own memory (MB) |\n|---|---|")
    for name, took in sorted(own.items(), key=lambda item: -item[1])[: args.modules]:
        print(f"| {name} | {took / 1e6:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
