"""The image's trust store: the Dockerfile sets ``SSL_CERT_FILE`` so that OpenSSL loads no CA bundle (docs/
operations.md, "CA bundles and mutual TLS") and looks each CA up by hash in the certificate directory
instead. A real ``python -OO -P -m sidecar run`` process with that setting (and ``SSL_CERT_DIR`` naming a
directory hashed by ``openssl rehash``, as the base image's ``/etc/ssl/certs`` is) still verifies an https
provider whose CA is in the directory, and still refuses one whose CA is not."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import openai
import pytest
import trustme

from ..deploy.dockerfile import stages
from ..live_stack import Processes
from ..sdk_clients import sdk_client
from .tls_provider import TLSProvider, tls_provider_block


def image_ssl_cert_file() -> str:
    """``SSL_CERT_FILE`` as the image's final stage sets it."""
    values = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', " ".join(stages()[-1].args("ENV"))))
    return values["SSL_CERT_FILE"].strip('"')


def hashed_directory(path: Path, ca: trustme.CA | None) -> Path:
    """A certificate directory as OpenSSL reads it: ``ca``'s certificate (if any) under its hash's name."""
    path.mkdir()
    if ca is not None:
        ca.cert_pem.write_to_path(str(path / "test-ca.pem"))
        subprocess.run(["openssl", "rehash", str(path)], check=True, capture_output=True)
    return path


async def ask_through_image_sidecar(url: str, certificates: Path, workdir: Path) -> str:
    """One chat through a sidecar process started as the image starts it, to the https provider ``url``
    (no ``tls`` block: the system store), with ``SSL_CERT_DIR`` set to ``certificates``."""
    policy = workdir / "policy.yaml"
    # connect_s 30: the provider runs on this test's loop, which the blocking start below holds for a while
    defaults = "defaults:\n  resilience: {timeouts: {connect_s: 30}}\n"
    models = "models:\n  m: {provider: p, model: up}\n"
    policy.write_text("version: 1\n" + defaults + "providers:\n" + tls_provider_block("p", url) + models)
    env = {"SSL_CERT_FILE": image_ssl_cert_file(), "SSL_CERT_DIR": str(certificates)}
    processes = Processes(workdir)
    try:
        _, ports = processes.start_sidecar(policy, env, python=("-OO", "-P"))
        client = sdk_client(openai.AsyncOpenAI, base_url=f"http://127.0.0.1:{ports['port']}/v1", api_key="app")
        try:
            answer = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "tls"}])
        finally:
            await client.close()
    finally:
        processes.close()
    return answer.choices[0].message.content or ""


async def test_the_image_verifies_a_provider_by_the_certificate_directory(
    tls_fake: TLSProvider, ca: trustme.CA, tmp_path: Path
) -> None:
    """Without a bundle file, a provider whose CA is in the hashed certificate directory is verified and
    answers."""
    url = await tls_fake()
    assert await ask_through_image_sidecar(url, hashed_directory(tmp_path / "certs", ca), tmp_path) == "tls"


async def test_the_image_refuses_a_provider_whose_ca_is_in_no_store(tls_fake: TLSProvider, tmp_path: Path) -> None:
    """Without a bundle file, a provider whose CA is not in the certificate directory fails the call with
    ``tls_unknown_ca`` (verification is not relaxed)."""
    url = await tls_fake()
    with pytest.raises(openai.APIStatusError) as caught:
        await ask_through_image_sidecar(url, hashed_directory(tmp_path / "certs", None), tmp_path)
    assert caught.value.status_code == 502 and caught.value.code == "tls_unknown_ca"
