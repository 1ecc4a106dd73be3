"""Per-provider TLS against real TLS servers on 127.0.0.1 with a test CA (trustme): CA bundles, client
certificates (mutual TLS), rotation, and files that cannot be used."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import aiohttp
import pytest
import trustme

from sidecar.policy.spec import TLSSpec
from sidecar.upstream import TLSConfigError, UpstreamClient
from sidecar.upstream.tls import TLSContexts

from ..upstream.raw import RawUpstream, UpstreamFactory, answering, response
from .conftest import TIMEOUTS, provider

BODY = b"{}"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context


def pem(tmp_path: Path, name: str, blob: trustme.Blob) -> str:
    path = tmp_path / name
    blob.write_to_path(str(path))
    return str(path)


async def call(client: UpstreamClient, up: RawUpstream, tls: TLSSpec | None) -> bytes:
    resp = await client.post(provider(up.base, tls=tls), up.url, {}, BODY, TIMEOUTS)
    try:
        return await resp.read()
    finally:
        resp.close()


async def test_a_ca_bundle_verifies_the_provider(
    raw_upstream: UpstreamFactory, client: UpstreamClient, ca: trustme.CA, tmp_path: Path
) -> None:
    """With tls.ca_bundle naming the provider's CA the call succeeds, and its connection is reused."""
    up = await raw_upstream(answering(response(b"secure")), ssl_context=server_context(ca))
    tls = TLSSpec(ca_bundle=pem(tmp_path, "ca.pem", ca.cert_pem))
    assert [await call(client, up, tls) for _ in range(2)] == [b"secure", b"secure"]
    assert up.accepted == 1


async def test_without_a_ca_bundle_the_system_store_decides(
    raw_upstream: UpstreamFactory, client: UpstreamClient, ca: trustme.CA
) -> None:
    """Without a tls block a certificate from a CA the system does not know is refused."""
    up = await raw_upstream(answering(response()), ssl_context=server_context(ca))
    with pytest.raises(aiohttp.ClientConnectorCertificateError) as caught:
        await call(client, up, None)
    assert caught.value.certificate_error.verify_code == 20  # unable to get local issuer certificate


@pytest.mark.parametrize("key_apart", [True, False], ids=["key in its own file", "key in the cert file"])
async def test_a_client_certificate_is_shown(
    raw_upstream: UpstreamFactory, client: UpstreamClient, ca: trustme.CA, tmp_path: Path, key_apart: bool
) -> None:
    """A provider that requires a client certificate accepts the one named in tls.client_cert."""
    up = await raw_upstream(answering(response(b"mtls")), ssl_context=server_context(ca, require_client_cert=True))
    leaf = ca.issue_cert("sidecar.test")
    if key_apart:
        cert, key = pem(tmp_path, "c.pem", leaf.cert_chain_pems[0]), pem(tmp_path, "k.pem", leaf.private_key_pem)
    else:
        cert, key = pem(tmp_path, "both.pem", leaf.private_key_and_cert_chain_pem), None
    tls = TLSSpec(ca_bundle=pem(tmp_path, "ca.pem", ca.cert_pem), client_cert=cert, client_key=key)
    assert await call(client, up, tls) == b"mtls"


async def test_without_the_client_certificate_the_call_fails(
    raw_upstream: UpstreamFactory, client: UpstreamClient, ca: trustme.CA, tmp_path: Path
) -> None:
    """The same provider refuses a call that shows no client certificate."""
    up = await raw_upstream(answering(response()), ssl_context=server_context(ca, require_client_cert=True))
    with pytest.raises(aiohttp.ClientError):
        await call(client, up, TLSSpec(ca_bundle=pem(tmp_path, "ca.pem", ca.cert_pem)))


async def test_a_rotated_ca_bundle_is_used_after_refresh(
    raw_upstream: UpstreamFactory, client: UpstreamClient, ca: trustme.CA, tmp_path: Path
) -> None:
    """refresh() re-reads a CA bundle that changed (a rotated Secret) and names it; later calls use it."""
    up = await raw_upstream(answering(response(b"rotated")), ssl_context=server_context(ca))
    bundle = pem(tmp_path, "ca.pem", trustme.CA().cert_pem)  # the wrong CA first
    tls = TLSSpec(ca_bundle=bundle)
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await call(client, up, tls)
    assert client.refresh() == []
    ca.cert_pem.write_to_path(bundle)
    assert client.refresh() == [bundle]
    assert await call(client, up, tls) == b"rotated"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ca_bundle": "missing.pem"}, "missing.pem: No such file"),
        ({"ca_bundle": "garbage.pem"}, "tls.ca_bundle .*garbage.pem: not a usable PEM file"),
        ({"client_cert": "garbage.pem"}, "tls.client_cert .*garbage.pem: not a usable PEM file"),
    ],
)
def test_files_that_cannot_be_used_are_named(tmp_path: Path, fields: dict[str, str], message: str) -> None:
    """A missing or unreadable file raises TLSConfigError naming the file, never showing its content."""
    (tmp_path / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nsecret-looking\n-----END CERTIFICATE-----\n")
    spec = TLSSpec(**{name: str(tmp_path / value) for name, value in fields.items()})
    with pytest.raises(TLSConfigError, match=message) as caught:
        TLSContexts().context_for(spec)
    assert "secret-looking" not in str(caught.value)


def test_an_encrypted_key_is_refused_without_a_prompt(ca: trustme.CA, tmp_path: Path) -> None:
    """A passphrase-protected client key fails as unusable instead of OpenSSL asking on a terminal."""
    from cryptography.hazmat.primitives import serialization

    leaf = ca.issue_cert("sidecar.test")
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    (tmp_path / "key.pem").write_bytes(encrypted)
    spec = TLSSpec(client_cert=pem(tmp_path, "c.pem", leaf.cert_chain_pems[0]), client_key=str(tmp_path / "key.pem"))
    with pytest.raises(TLSConfigError, match="not a usable PEM file"):
        TLSContexts().context_for(spec)


@pytest.mark.timeout(10)
def test_a_ca_bundle_that_is_a_fifo_is_refused_not_waited_for(tmp_path: Path) -> None:
    """A named pipe as ``ca_bundle`` is a TLSConfigError naming it: OpenSSL would wait for a writer,
    on the event loop, and the pod would stop answering."""
    os.mkfifo(tmp_path / "ca.pem")
    with pytest.raises(TLSConfigError, match=r"ca\.pem: not a regular file"):
        TLSContexts().context_for(TLSSpec(ca_bundle=str(tmp_path / "ca.pem")))
