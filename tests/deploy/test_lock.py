"""requirements.lock, the image's runtime dependencies (`make lock`): every dependency pyproject.toml names
is pinned at a version its range allows, every pin is exact and carries sha256 hashes, the lock holds
nothing the package does not need, and the test environment runs the versions it pins (`make test`
installs with the pins as constraints), so the suite tests what the image ships."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .manifests import REPO

LOCK = REPO / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")
# What the image is: CPython 3.11 on Linux (the markers a dependency's requirement may carry).
IMAGE = {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux", "extra": ""}


def entries() -> dict[str, tuple[str, list[str]]]:
    """Each locked distribution's canonical name -> (version, its hashes)."""
    locked: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for line in LOCK.read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match[1])
            locked[name] = (match[2], [])
        elif "--hash=" in line:
            locked[name][1].append(line.split("--hash=", 1)[1].rstrip(" \\"))
    return locked


def declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    return [r for r in requirements if r.marker is None or r.marker.evaluate(IMAGE)]


def test_lock_pins_every_runtime_dependency_within_its_range() -> None:
    """Every dependency pyproject.toml declares for the image's platform is pinned, at a version its
    specifier allows."""
    locked = entries()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(locked[name][0], prereleases=True), (requirement, locked[name][0])


def test_every_pin_is_exact_and_hashed() -> None:
    """Each entry is `name==version` with at least one sha256 hash (pip's --require-hashes needs them all)."""
    locked = entries()
    assert len(locked) >= len(declared())
    for name, (_version, hashes) in locked.items():
        assert hashes, f"{name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name


def test_tests_run_on_the_locked_versions() -> None:
    """The environment the suite runs in has exactly the versions the image gets."""
    for name, (version, _hashes) in entries().items():
        assert importlib.metadata.version(name) == version, f"{name}: `make test` installs with the lock's pins"


def test_lock_holds_nothing_the_package_does_not_need() -> None:
    """The lock is the closure of the declared dependencies (read from the installed distributions'
    metadata), no more: a dependency dropped from pyproject.toml leaves the lock at the next `make lock`."""
    needed: set[str] = set()
    todo = [canonicalize_name(r.name) for r in declared()]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(IMAGE):
                todo.append(canonicalize_name(requirement.name))
    assert set(entries()) == needed
