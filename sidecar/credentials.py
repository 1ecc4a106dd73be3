"""Provider keys: resolved per attempt from the environment, a rotated file, or the app's own request.

Key files are read once and re-read when their stat signature changes; ``refresh()`` runs on the
reload loop, so the request path only reads a dict. The same hold-still rule as the policy watcher's
(``policy.watch``) keeps a half-written key from ever being sent: a file replaced whole (Kubernetes
rotates a Secret volume by swapping a symlink, which changes the inode seen through the path; a rename)
is complete when seen and is read on that poll; a file written in place (``echo KEY > file``: truncated,
then written) is read once its signature has held still for one poll. An empty or unreadable file is
never used, nor one that is not UTF-8 text or not a regular file (a FIFO is never opened): the last
key read keeps serving (``refresh`` reports the path once per change, for the log).
During a rotation the app's requests carry the old key, then the new one, never an empty or partial
one. A key never leaves this module except as the header value sent upstream: errors name the *source*
(``env OPENAI_API_KEY is not set``), never a value.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .policy.files import read_file
from .policy.spec import ApiKeySpec

# Header names under which an app may send its own key, per the three SDKs and Azure.
APP_KEY_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")


class CredentialError(Exception):
    """No key could be had; the message names the source, never a key."""


Signature = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class _FileKey:
    signature: Signature
    value: str
    unsettled: Signature | None = None  # a change seen, being written in place: read if it holds still
    refused: tuple[Signature | None] | None = None  # (the signature) of a change refused: reported once


def file_signature(path: str) -> Signature:
    """The stat signature of the regular file at ``path``; ``OSError`` for anything else (a FIFO would
    make the reader, on the event loop, wait for a writer: nothing here opens one)."""
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", path)
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class Credentials:
    """The keys the sidecar injects, with file-backed keys cached until their file changes."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._files: dict[str, _FileKey] = {}

    def key_for(self, spec: ApiKeySpec, app_key: str | None) -> str | None:
        """The key to send upstream; None when the provider takes none."""
        if spec.passthrough:
            if not app_key:
                raise CredentialError("the provider passes the app's key through, and the app sent none")
            if not app_key.isascii() and not _is_text(app_key):
                # bytes that are not UTF-8 reach the sidecar as lone surrogates: they could not be sent as
                # the app sent them (the HTTP client drops them), nor found in an error quoting the key
                raise CredentialError("the app's API key holds bytes that are not UTF-8: it cannot be passed through")
            return app_key
        if spec.env is not None:
            value = self._env.get(spec.env, "").strip()
            if not value:
                raise CredentialError(f"environment variable {spec.env} is not set")
            return _one_line(value, f"environment variable {spec.env}")
        assert spec.file is not None
        cached = self._files.get(spec.file)
        if cached is None:
            cached = self._read(spec.file)
        return cached.value

    def unset_variables(self, keys: Mapping[str, ApiKeySpec | None]) -> list[str]:
        """``providers.NAME.api_key.env: VAR is not set ...`` for each provider (name -> its ``api_key``)
        whose key variable is unset or empty here: its targets will be skipped, every request, until the
        sidecar runs with it (read at start and on each reload; never the value)."""
        return [
            f"providers.{name}.api_key.env: {spec.env} is not set in the sidecar's environment: "
            f"{name}'s targets are skipped (credentials)"
            for name, spec in keys.items()
            if spec is not None and spec.env is not None and not self._env.get(spec.env, "").strip()
        ]

    def refresh(self) -> tuple[list[str], list[str]]:
        """Re-read key files whose signature changed and is settled (module docstring); returns the
        paths whose key changed and the reasons a changed file was refused (once per change; never a
        key)."""
        changed: list[str] = []
        refused: list[str] = []
        for path, cached in list(self._files.items()):
            try:
                signature = file_signature(path)
            except OSError as exc:
                signature = None
                reason = f"key file {path} cannot be read: {exc.strerror}"
            if signature == cached.signature:
                continue
            if signature is not None:
                in_place = signature[:2] == cached.signature[:2]
                if in_place and signature != cached.unsettled:  # may be half-written: wait a poll
                    self._files[path] = replace(cached, unsettled=signature)
                    continue
                try:
                    if self._read(path).value != cached.value:  # a Secret swap re-links every file
                        changed.append(path)
                    continue
                except CredentialError as exc:
                    reason = str(exc)
            if cached.refused != (signature,):
                refused.append(reason)  # the last key read keeps serving
            self._files[path] = replace(cached, unsettled=None, refused=(signature,))
        return changed, refused

    def _read(self, path: str) -> _FileKey:
        try:
            signature = file_signature(path)
            value = read_file(path).decode().strip()
        except OSError as exc:
            raise CredentialError(f"key file {path} cannot be read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CredentialError(f"key file {path} is not UTF-8 text") from None
        if not value:
            raise CredentialError(f"key file {path} is empty")
        entry = _FileKey(signature, _one_line(value, f"key file {path}"))
        self._files[path] = entry
        return entry


def _one_line(key: str, source: str) -> str:
    """``key``, checked to be sendable as a header value (no line break or NUL to split the request)."""
    if "\n" in key or "\r" in key or "\0" in key:
        raise CredentialError(f"{source} holds a line break or NUL inside the key")
    return key


def app_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key the app itself sent, whichever SDK's header (or Gemini's ``?key=``) carries it."""
    bearer = headers.get("authorization")
    if bearer:
        scheme, _, token = bearer.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else bearer
    for name in APP_KEY_HEADERS[1:]:
        value = headers.get(name)
        if value:
            return value
    return query.get("key") or None


def _is_text(value: str) -> bool:
    """``value`` is valid Unicode text (no lone surrogate, which the listener makes of bytes that are not
    UTF-8)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True
