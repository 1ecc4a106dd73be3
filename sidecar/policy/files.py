"""The files a policy is made of: its own bytes and every file its compiled form read.

A policy may reference other files that are read when it is compiled (today the learned router of
``routing.learned.file``). Those are part of the policy: ``Policy.files`` lists them (path as read, a
hash of the bytes read), ``policy_version`` folds their hashes into the version, and the watcher
(``watch``) polls them beside the policy file, so a changed router file alone reloads the policy.

``policy_version(data, [])`` is the hash of the policy bytes alone, as it was before dependent files
existed: a policy that references no file keeps its version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

UNREADABLE = "unreadable"
"""The digest of a dependent file that cannot be read (the next load reports why)."""


@dataclass(frozen=True, slots=True)
class DependentFile:
    """A file the compiled policy read: its path and the digest of the bytes read."""

    path: str
    digest: str


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def current_digest(path: str) -> str:
    """The digest of ``path`` as it is now (``UNREADABLE`` when it cannot be read)."""
    try:
        return digest_of(Path(path).read_bytes())
    except OSError:
        return UNREADABLE


def policy_version(data: bytes, file_digests: Iterable[str]) -> str:
    """The version of a policy: a hash of its bytes and of the digests of the files it read, in order."""
    digest = hashlib.sha256(data)
    for file_digest in file_digests:
        digest.update(b"\0" + file_digest.encode())
    return digest.hexdigest()[:12]
