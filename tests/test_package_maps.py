"""The package's maps against its modules: each package's docstring (``sidecar/__init__.py``,
``sidecar/server/__init__.py``, ...) names every module and subpackage it holds, and every entry of a
map list names one that exists, so a reader who starts from the map finds every module and no ghost."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(init.parent for init in (ROOT / "sidecar").rglob("__init__.py"))


def docstring(package: Path) -> str:
    return ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""


def members(package: Path) -> set[str]:
    """The package's modules (``__init__`` and ``__main__`` aside) and subpackages."""
    modules = {path.stem for path in package.glob("*.py")} - {"__init__", "__main__"}
    return modules | {path.name for path in package.iterdir() if (path / "__init__.py").exists()}


def named(name: str, doc: str) -> bool:
    """Whether a docstring names a module as a map does: in double backticks (``stream``, ``learned/``,
    ``telemetry.request``), as an entry of an indented map (``    wire    the WireDialect ...``, ``+-
    request.RequestTrace``), or as ``module.Name``; a word of the prose (``names``, ``plans``) is not."""
    word = re.escape(name)
    return bool(
        re.search(rf"``{word}[/.`]", doc)
        or re.search(rf"^( +[|+ -]*{word}(/|\.\w+)?\s|{word}\s\s)", doc, re.M)  # an entry opening a line
        or re.search(rf"\S\s\s+{word}\s\s", doc)  # ... or a second column: ``stream_in  ...  stream_out  ...``
        or re.search(rf"\b{word}\.[A-Z]", doc)
    )


def test_every_module_is_on_its_packages_map() -> None:
    """Each module and subpackage of ``sidecar/`` is named by its package's docstring."""
    missing = [
        f"{package.relative_to(ROOT)}/{name}"
        for package in PACKAGES
        for name in sorted(members(package))
        if not named(name, docstring(package))
    ]
    assert len(PACKAGES) > 15
    assert missing == []


def test_every_entry_of_a_map_is_a_module() -> None:
    """Each entry of a map list (``- ``name``  what it is``) names a module or subpackage of that package."""
    gone = [
        f"{package.relative_to(ROOT)}: {entry}"
        for package in PACKAGES
        for entry in re.findall(r"^- ``(\w+)/?``", docstring(package), re.M)
        if entry not in members(package)
    ]
    entries = sum(len(re.findall(r"^- ``(\w+)/?``", docstring(package), re.M)) for package in PACKAGES)
    assert entries > 100
    assert gone == []
