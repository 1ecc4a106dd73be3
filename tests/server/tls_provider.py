"""A fake OpenAI provider over TLS for the server's tests: ``ca`` (a test CA, trustme, per module) and
``tls_fake(cert=..., require_client_cert=...)``, which starts one and returns its https base URL;
``policy`` writes a one-model policy for it (``m`` on provider ``p``)."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trustme

from sidecar.fake_provider import FakeConfig
from sidecar.fake_provider import build_app as build_fake_app

TLSProvider = Callable[..., Awaitable[str]]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_fake(aiohttp_server: Any, ca: trustme.CA) -> TLSProvider:
    """``tls_fake(cert=..., require_client_cert=...)``: a fake OpenAI provider over TLS; its https base URL."""

    async def start(*, cert: trustme.LeafCert | None = None, require_client_cert: bool = False) -> str:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (cert or ca.issue_cert("127.0.0.1", "localhost")).configure_cert(context)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            ca.configure_trust(context)
        server = await aiohttp_server(build_fake_app(FakeConfig(name="tls")), ssl=context)
        return str(server.make_url("")).rstrip("/")

    return start


def tls_provider_block(name: str, url: str, tls: str = "", proxy: str = "") -> str:
    """Provider ``name`` (a fake speaking openai at ``url``) with its ``tls`` and ``proxy`` settings, if any."""
    block = f"  {name}:\n    dialect: fake\n    speaks: openai\n    base_url: {url}\n"
    block += f"    tls: {tls}\n" if tls else ""
    block += f"    proxy: {proxy}\n" if proxy else ""
    return block
