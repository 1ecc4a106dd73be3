"""Corporate egress through the real sidecar: a TLS fake provider (a test CA, trustme) reached through a
CONNECT proxy in the test process when HTTPS_PROXY says so, directly when NO_PROXY or the provider's
``proxy: none`` says so; a provider's CA bundle and client certificate; a TLS failure that says why."""

from __future__ import annotations

import datetime
from pathlib import Path

import openai
import pytest
import trustme

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import sdk_client
from ..upstream.connect_proxy import ConnectProxy
from .tls_provider import TLSProvider, tls_provider_block


def policy(url: str, tls: str = "", proxy: str = "") -> str:
    """One model on the TLS fake at ``url``. Connecting (the TCP connect, a proxy's CONNECT, the TLS
    handshake: all ``connect_s``) needs the fake and the proxy, which run on the test's own loop, to
    answer: within 30 s, not the product's 5 s, which a loaded machine can stall the loop past (a 504
    where the test expects an answer or the handshake's own 502)."""
    models = "models:\n  m: {provider: p, model: up}\n"
    defaults = "defaults:\n  resilience: {timeouts: {connect_s: 30}}\n"
    return "version: 1\n" + defaults + "providers:\n" + tls_provider_block("p", url, tls, proxy) + models


async def ask(running: RunningSidecar) -> str:
    client = sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="app")
    try:
        answer = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "via tls"}])
    finally:
        await client.close()
    return answer.choices[0].message.content or ""


def bundle(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return f"{{ca_bundle: {path}}}"


async def test_https_proxy_carries_the_calls(
    tls_fake: TLSProvider, sidecar: SidecarFactory, ca: trustme.CA, tmp_path: Path
) -> None:
    """With HTTPS_PROXY set, the call to the TLS provider is a CONNECT tunnel through the proxy."""
    url = await tls_fake()
    async with ConnectProxy() as proxy:
        running = await sidecar(policy(url, tls=bundle(ca, tmp_path)), env={"HTTPS_PROXY": proxy.url})
        assert "via tls" in await ask(running)
    assert proxy.targets == [url.removeprefix("https://")]


async def test_no_proxy_covering_the_host_goes_direct(
    tls_fake: TLSProvider, sidecar: SidecarFactory, ca: trustme.CA, tmp_path: Path
) -> None:
    """With NO_PROXY naming the provider's host, the call does not touch the proxy."""
    url = await tls_fake()
    async with ConnectProxy() as proxy:
        env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.1"}
        running = await sidecar(policy(url, tls=bundle(ca, tmp_path)), env=env)
        assert "via tls" in await ask(running)
    assert proxy.targets == []


async def test_a_provider_can_refuse_the_environment_proxy(
    tls_fake: TLSProvider, sidecar: SidecarFactory, ca: trustme.CA, tmp_path: Path
) -> None:
    """proxy: none on a provider goes direct although HTTPS_PROXY is set."""
    url = await tls_fake()
    async with ConnectProxy() as proxy:
        running = await sidecar(policy(url, tls=bundle(ca, tmp_path), proxy="none"), env={"HTTPS_PROXY": proxy.url})
        assert "via tls" in await ask(running)
    assert proxy.targets == []


async def test_a_provider_can_name_its_own_proxy(
    tls_fake: TLSProvider, sidecar: SidecarFactory, ca: trustme.CA, tmp_path: Path
) -> None:
    """proxy: http://... on a provider carries its calls without any environment variable."""
    url = await tls_fake()
    async with ConnectProxy() as proxy:
        running = await sidecar(policy(url, tls=bundle(ca, tmp_path), proxy=proxy.url))
        assert "via tls" in await ask(running)
    assert len(proxy.targets) == 1


async def test_a_client_certificate_from_files_is_shown(
    tls_fake: TLSProvider, sidecar: SidecarFactory, ca: trustme.CA, tmp_path: Path
) -> None:
    """A provider requiring mutual TLS is served with the client certificate and key named in tls."""
    url = await tls_fake(require_client_cert=True)
    leaf = ca.issue_cert("llm-sidecar.test")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "client.crt"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    tls = f"{{ca_bundle: {tmp_path}/ca.pem, client_cert: {tmp_path}/client.crt, client_key: {tmp_path}/client.key}}"
    running = await sidecar(policy(url, tls=tls))
    assert "via tls" in await ask(running)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@pytest.mark.parametrize(
    ("case", "error_type"),
    [("unknown CA", "tls_unknown_ca"), ("other host", "tls_hostname_mismatch"), ("expired", "tls_expired")],
)
async def test_a_tls_failure_says_why(
    tls_fake: TLSProvider, sidecar: SidecarFactory, ca: trustme.CA, tmp_path: Path, case: str, error_type: str
) -> None:
    """A refused certificate fails the call with its reason: in the 502 body, the access line and the span."""
    cert = {
        "unknown CA": None,
        "other host": ca.issue_cert("api.other.example"),
        "expired": ca.issue_cert(
            "127.0.0.1", not_before=now() - datetime.timedelta(days=9), not_after=now() - datetime.timedelta(days=1)
        ),
    }[case]
    url = await tls_fake(cert=cert)
    tls = "" if case == "unknown CA" else bundle(ca, tmp_path)
    running = await sidecar(policy(url, tls=tls))
    with pytest.raises(openai.APIStatusError) as caught:
        await ask(running)
    assert caught.value.status_code == 502 and caught.value.code == error_type
    (access,) = [line for line in running.log_lines() if line["event"] == "access"]
    assert set(access["attempt_log"]) == {f"m:{error_type}"}  # a last target is tried again after a backoff
    spans = [span for span in running.spans.get_finished_spans() if span.kind.name == "CLIENT"]
    assert spans and {span.attributes["error.type"] for span in spans} == {error_type}
