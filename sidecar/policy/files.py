"""The files a policy is made of: its own bytes and every file its compiled form read.

A policy may reference other files that are read when it is compiled (today the learned router of
``routing.learned.file``). Those are part of the policy: ``Policy.files`` lists them (path as read, a
hash of the bytes read), ``policy_version`` folds their hashes into the version, and the watcher
(``watch``) polls them beside the policy file, so a changed router file alone reloads the policy.

``read_file(path)`` reads every one of them, and the watcher the policy itself: a regular file only,
opened without blocking, so a named pipe or a device put where a file was is an error at once, not a
server waiting for a writer on its event loop. (``load_policy``, for the CLI and start-up, reads any
file: ``validate <(git show ...)`` reads a pipe.)

``policy_version(data, [])`` is the hash of the policy bytes alone, as it was before dependent files
existed: a policy that references no file keeps its version.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

UNREADABLE = "unreadable"
"""The digest of a dependent file that cannot be read (the next load reports why)."""


@dataclass(frozen=True, slots=True)
class DependentFile:
    """A file the compiled policy read: its path and the digest of the bytes read."""

    path: str
    digest: str


def read_file(path: str | os.PathLike[str], limit: int = -1) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed); ``OSError`` for anything else
    (``not a regular file`` for a FIFO, a socket or a device: they are never opened for reading).
    With ``limit``, at most ``limit + 1`` bytes: the caller can tell a file over its bound, unread."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO opens at once, unread
    with open(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        return handle.read(limit + 1 if limit >= 0 else -1)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def current_digest(path: str) -> str:
    """The digest of ``path`` as it is now (``UNREADABLE`` when it cannot be read)."""
    try:
        return digest_of(read_file(path))
    except OSError:
        return UNREADABLE


def policy_version(data: bytes, file_digests: Iterable[str]) -> str:
    """The version of a policy: a hash of its bytes and of the digests of the files it read, in order."""
    digest = hashlib.sha256(data)
    for file_digest in file_digests:
        digest.update(b"\0" + file_digest.encode())
    return digest.hexdigest()[:12]
