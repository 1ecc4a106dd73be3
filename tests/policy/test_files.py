"""A policy's version covers the files it read when compiled (the learned router), and only then."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sidecar.policy import load_policy

from .test_load import BASE
from .test_watch import LEARNED


def test_version_covers_the_router_file(tmp_path: Path, router_files: tuple[bytes, bytes]) -> None:
    """The same policy bytes with another router file have another version, and list the file read."""
    path = tmp_path / "policy.yaml"
    path.write_text(LEARNED)
    (tmp_path / "router.json").write_bytes(router_files[0])
    first = load_policy(path)
    (tmp_path / "router.json").write_bytes(router_files[1])
    second = load_policy(path)
    assert first.version != second.version
    assert [f.path for f in second.files] == [str(tmp_path / "router.json")]


def test_version_without_files_is_the_hash_of_the_bytes(tmp_path: Path) -> None:
    """A policy that reads no other file keeps the version it always had: the hash of its bytes."""
    path = tmp_path / "policy.yaml"
    path.write_text(BASE + "default: {target: gpt-4o}\n")
    policy = load_policy(path)
    assert policy.files == ()
    assert policy.version == hashlib.sha256(path.read_bytes()).hexdigest()[:12]
