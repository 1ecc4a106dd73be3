"""Which proxy carries a provider's calls: the environment's HTTPS_PROXY / HTTP_PROXY / NO_PROXY, the
provider's own ``proxy`` setting, and a real CONNECT tunnel to a TLS provider."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest
import trustme
from yarl import URL

from sidecar.policy.spec import TLSSpec
from sidecar.upstream import EnvProxies
from sidecar.upstream.proxy import provider_proxy

from ..upstream.raw import UpstreamFactory, answering, response
from .conftest import TIMEOUTS, ClientFactory, provider
from .connect_proxy import ConnectProxy

ENV = {"HTTPS_PROXY": "http://secure-proxy:3128", "HTTP_PROXY": "http://plain-proxy:3128"}


def proxy_url(env: dict[str, str], url: str) -> str | None:
    proxy = EnvProxies(env).for_url(url)
    return None if proxy is None else str(proxy.url)


def test_the_scheme_picks_the_variable() -> None:
    """An https provider goes through HTTPS_PROXY, an http one through HTTP_PROXY."""
    assert proxy_url(ENV, "https://api.openai.com/v1") == "http://secure-proxy:3128"
    assert proxy_url(ENV, "http://vllm.internal:8000/v1") == "http://plain-proxy:3128"


def test_lower_case_names_win() -> None:
    """https_proxy wins over HTTPS_PROXY, as curl and urllib read them."""
    env = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"}
    assert proxy_url(env, "https://api.anthropic.com") == "http://lower:2"


@pytest.mark.parametrize(
    ("no_proxy", "url", "direct"),
    [
        ("api.openai.com", "https://api.openai.com/v1", True),
        ("openai.com", "https://api.openai.com/v1", True),
        (".openai.com", "https://api.openai.com/v1", True),
        ("notopenai.com", "https://api.openai.com/v1", False),
        ("localhost, 127.0.0.1", "http://127.0.0.1:9000", True),
        ("127.0.0.1:9000", "http://127.0.0.1:9000", True),
        ("127.0.0.1:9001", "http://127.0.0.1:9000", False),
        ("*", "https://generativelanguage.googleapis.com", True),
    ],
)
def test_no_proxy_names_the_hosts_reached_directly(no_proxy: str, url: str, direct: bool) -> None:
    """NO_PROXY: host names, domain suffixes (with or without a dot), host:port, and * for every host."""
    assert (proxy_url({**ENV, "NO_PROXY": no_proxy}, url) is None) == direct


def test_credentials_in_the_variable_become_proxy_auth() -> None:
    """user:password in HTTPS_PROXY is taken out of the URL and sent as Proxy-Authorization."""
    proxy = EnvProxies({"HTTPS_PROXY": "http://svc:s%40cret@proxy:3128"}).for_url("https://api.openai.com")
    assert proxy is not None and proxy.url == URL("http://proxy:3128")
    assert proxy.headers == {"Proxy-Authorization": "Basic " + base64.b64encode(b"svc:s@cret").decode()}


def test_a_proxy_that_is_not_http_is_ignored_and_named() -> None:
    """An https:// or socks5:// proxy variable is ignored (aiohttp tunnels through http:// proxies only)."""
    env = EnvProxies({"HTTPS_PROXY": "https://proxy:443", "HTTP_PROXY": "socks5://proxy:1080"})
    assert env.for_url("https://api.openai.com") is None and env.for_url("http://x") is None
    assert sorted(env.ignored) == ["HTTPS_PROXY", "HTTP_PROXY"]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(None, "http://secure-proxy:3128"), ("none", None), ("http://team-proxy:8080", "http://team-proxy:8080")],
)
def test_the_provider_setting_overrides_the_environment(setting: str | None, expected: str | None) -> None:
    """A provider's proxy: unset follows the environment, none goes direct, a URL is used as given."""
    proxy = provider_proxy(setting, "https://api.openai.com/v1", EnvProxies(ENV))
    assert (None if proxy is None else str(proxy.url)) == expected


async def test_calls_to_a_tls_provider_go_through_the_tunnel(
    raw_upstream: UpstreamFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    """With HTTPS_PROXY set, a call to an https provider is a CONNECT through the proxy, TLS end to end."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    up = await raw_upstream(answering(response(b"tunnelled")), ssl_context=context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    tls = TLSSpec(ca_bundle=str(tmp_path / "ca.pem"))
    async with ConnectProxy() as proxy:
        client = make_client(env={"HTTPS_PROXY": proxy.url.replace("http://", "http://svc:pw@")})
        resp = await client.post(provider(up.base, tls=tls), up.url, {}, b"{}", TIMEOUTS)
        assert await resp.read() == b"tunnelled"
        resp.close()
    assert proxy.targets == [up.base.removeprefix("https://")]
    assert proxy.authorizations == ["Basic c3ZjOnB3"]  # svc:pw


async def test_calls_to_an_http_provider_go_through_the_proxy_with_its_credentials(
    raw_upstream: UpstreamFactory, make_client: ClientFactory
) -> None:
    """With HTTP_PROXY=http://user:pw@..., a call to an http provider reaches the proxy with Proxy-Authorization."""
    up = await raw_upstream(answering(response(b"forwarded")))
    async with ConnectProxy() as proxy:
        client = make_client(env={"HTTP_PROXY": proxy.url.replace("http://", "http://svc:pw@")})
        resp = await client.post(provider(up.base), up.url, {}, b"{}", TIMEOUTS)
        assert await resp.read() == b"forwarded"
        resp.close()
    assert proxy.targets == [up.url]
    assert proxy.authorizations == ["Basic c3ZjOnB3"]  # svc:pw
