"""Which proxy carries the calls to a provider: the provider's ``proxy`` setting, else the environment's.

The environment is read once, at start, the way curl and Python's urllib read it: ``HTTPS_PROXY`` for
https providers, ``HTTP_PROXY`` for http ones (a lower-case name wins over the upper-case one), and
``NO_PROXY`` for the hosts reached directly (comma-separated host names, domain suffixes with or
without a leading dot, ``host:port``, or ``*``; matched by ``urllib.request.proxy_bypass_environment``;
no CIDR ranges). A provider's ``proxy`` in the policy overrides all of it: an ``http://`` URL, or
``none``. Only ``http://`` proxies are supported, as in aiohttp: an https provider is reached through a
``CONNECT`` tunnel, so TLS is still end to end. An environment proxy that is not ``http://`` is ignored
and listed in ``EnvProxies.ignored`` (the app logs it at start). Credentials in an environment proxy
URL (``http://user:pass@proxy:3128``) become ``Proxy-Authorization: Basic``: on the CONNECT request of
a tunnel (https providers), and on each request itself to an http provider, which the proxy receives
whole (aiohttp sends its ``proxy_headers`` only with a CONNECT; its ``proxy_auth`` is deprecated).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]  # (not in typeshed)

from aiohttp import encode_basic_auth
from yarl import URL


@dataclass(frozen=True, slots=True)
class Proxy:
    """A proxy to send calls through, and the headers of the CONNECT request (its credentials)."""

    url: URL
    headers: Mapping[str, str] | None = None

    @classmethod
    def parse(cls, text: str) -> Proxy:
        url = URL(text)
        if url.user is None:
            return cls(url)
        authorization = encode_basic_auth(url.user, url.password or "")
        return cls(url.with_user(None), {"Proxy-Authorization": authorization})


class EnvProxies:
    """``HTTP_PROXY``, ``HTTPS_PROXY`` and ``NO_PROXY`` as found in ``env`` (read once)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        found: dict[str, str] = {}
        for lower_case in (False, True):  # the lower-case names second, so that they win
            for name, value in env.items():
                if name.lower().endswith("_proxy") and (name == name.lower()) == lower_case and value.strip():
                    found[name.lower()[: -len("_proxy")]] = value.strip()
        self._no_proxy = {"no": found["no"]} if "no" in found else {}
        self.ignored: list[str] = []
        self._by_scheme: dict[str, Proxy] = {}
        for scheme in ("http", "https"):
            text = found.get(scheme)
            if text is None:
                continue
            if urlsplit(text).scheme != "http" or not urlsplit(text).hostname:
                self.ignored.append(f"{scheme.upper()}_PROXY")
                continue
            self._by_scheme[scheme] = Proxy.parse(text)

    def for_url(self, url: str) -> Proxy | None:
        """The environment's proxy for ``url``, or None (none set, or ``NO_PROXY`` covers its host)."""
        parts = urlsplit(url)
        proxy = self._by_scheme.get(parts.scheme)
        if proxy is None or not parts.hostname:
            return None
        if self._no_proxy and proxy_bypass_environment(parts.netloc.rpartition("@")[2], self._no_proxy):
            return None
        return proxy


def provider_proxy(setting: str | None, base_url: str, env: EnvProxies) -> Proxy | None:
    """The proxy for a provider: its ``proxy`` setting (``none``, a URL) or, unset, the environment's."""
    if setting == "none":
        return None
    if setting is not None:
        return Proxy.parse(setting)
    return env.for_url(base_url)
