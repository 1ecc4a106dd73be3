"""Per-provider TLS: the CA bundle a provider's certificate is checked against, and the client
certificate shown to it (mutual TLS), from files named in the policy's ``tls`` block.

``TLSContexts.context_for(spec)`` builds an ``ssl.SSLContext`` the first time a provider with that
block is called (loading a CA bundle takes milliseconds) and keeps it, one per set of files;
``refresh()``, run on the reload tick like the key files' (``credentials``), rebuilds a context whose
files changed (a rotated Secret): later calls use the new certificate, connections already open keep
the old one until they close. Verification is never relaxed: chain, validity and host name are checked
as for any https provider; ``ca_bundle`` replaces the system store for that provider (concatenate PEM
files to trust both). Errors name the file and what is wrong with it, never its content. Providers
without a ``tls`` block use the system store (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` move it).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from ..credentials import file_signature
from ..policy.spec import TLSSpec

Files = tuple[str | None, str | None, str | None]  # ca_bundle, client_cert, client_key
Signature = tuple[tuple[int, int, int, int], ...]


class TLSConfigError(Exception):
    """A ``tls`` file cannot be used; the message names the file, never its content."""


@dataclass(frozen=True, slots=True)
class _Built:
    signature: Signature
    context: ssl.SSLContext


class TLSContexts:
    """The TLS contexts of the providers that have a ``tls`` block, built once per set of files."""

    def __init__(self) -> None:
        self._built: dict[Files, _Built] = {}

    def context_for(self, spec: TLSSpec) -> ssl.SSLContext:
        """The context for ``spec``'s files; raises ``TLSConfigError`` when one cannot be read or used."""
        files = (spec.ca_bundle, spec.client_cert, spec.client_key)
        built = self._built.get(files)
        if built is None:
            built = self._build(files)
        return built.context

    def refresh(self) -> list[str]:
        """Rebuild the contexts whose files changed; returns the files re-read (for the log)."""
        changed: list[str] = []
        for files, built in list(self._built.items()):
            try:
                if _signature(files) != built.signature:
                    self._build(files)
                    changed.extend(path for path in files if path)
            except TLSConfigError:
                continue  # keep the last good context; a provider called fresh reports the failure
        return changed

    def _build(self, files: Files) -> _Built:
        ca_bundle, client_cert, client_key = files
        signature = _signature(files)
        try:
            context = ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(f"tls.ca_bundle {ca_bundle}: {_reason(exc)}") from None
        if client_cert is not None:
            try:
                context.load_cert_chain(client_cert, client_key, password=_no_password)
            except (OSError, ssl.SSLError) as exc:
                key = f" / tls.client_key {client_key}" if client_key else ""
                raise TLSConfigError(f"tls.client_cert {client_cert}{key}: {_reason(exc)}") from None
        built = _Built(signature, context)
        self._built[files] = built
        return built


def _no_password() -> bytes:
    """An encrypted key is refused (as a wrong password) instead of OpenSSL prompting on a terminal."""
    return b""


def _signature(files: Files) -> Signature:
    try:
        return tuple(file_signature(path) for path in files if path)
    except OSError as exc:
        raise TLSConfigError(f"{exc.filename}: {exc.strerror}") from None


def _reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"not a usable PEM file ({exc.reason or exc.strerror or type(exc).__name__})"
    return exc.strerror or type(exc).__name__
