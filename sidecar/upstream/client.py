"""The upstream client: aiohttp's ``ClientSession``, one per process, owned by the app.

Lifecycle: ``UpstreamClient(settings, proxies)`` is built with the app; ``open()`` (in the running
loop) makes the connector and the session, ``close()`` closes them, ``refresh()`` rebuilds the TLS
contexts whose files were rotated (on the reload tick). Nothing lives at module level.

The connector, tuned for a proxy rather than left at aiohttp's defaults:

- at most ``SIDECAR_UPSTREAM_CONNECTIONS`` (4096) connections open at once, and
  ``SIDECAR_UPSTREAM_CONNECTIONS_PER_HOST`` (2048) to one host and port (aiohttp's 100 would queue the
  101st concurrent stream); a call beyond waits for a free connection, within its first-byte deadline;
- connections kept alive for 15 s of idleness (below the 60 s or more that providers' load balancers
  keep them, so the sidecar closes first and rarely sends on a connection being closed);
- DNS answers cached for 60 s; each lookup bounded by the attempt's ``connect_s`` and a failed one
  remembered for 5 s (``resolver.BoundedResolver``, around aiohttp's default resolver or the class given
  as ``resolver_class``, the seam tests use for a slow or failing resolver); happy eyeballs (RFC 8305):
  the addresses of a host are tried in turn, IPv6 and IPv4 interleaved, the next one 250 ms after one
  has not connected, so a family without a route costs 250 ms, not a whole ``connect_s``.

The session: no cookie jar (the sidecar serves every caller of the pod: a provider's cookies must not
follow one caller's call into another's); no redirects (a 3xx means a wrong ``base_url``, classified by
``resilience.classify``, not followed); no default timeout (aiohttp's ``total=300`` would cut long
generations); ``trust_env`` off: the proxy environment is read once at start (``proxy``), where
aiohttp would read it, and ``~/.netrc``, in a thread on every call (3x fewer calls per second
measured, docs/benchmarks.md). Bodies are decompressed by aiohttp, within ``response``'s bounds.

``forward(provider, method, url, headers, body, timeouts)`` is a passthrough's call: any method, the
body streamed, the answer's head returned with its body unread and undecoded (its timeouts: its
docstring). ``post(provider, url, headers, body, timeouts)`` returns an ``UpstreamResponse`` once the head has
arrived and been checked. Per provider, its route (the proxy, the TLS context of its ``tls`` block) is
made once and kept while the provider object is the policy's. The timeouts:

- ``connect_s``: making a new connection, one budget for all of it (``_Connector``): the name lookup,
  the TCP connect (every address tried), the TLS handshake and a proxy's ``CONNECT``; it raises
  ``ConnectionTimeoutError``. A call on a pooled connection arms no timer for it. The wait for a free
  connection when a connection limit is reached is not part of it (before wave 28 it was: a busy pool
  made ``timeout_connect`` failures that opened a healthy provider's breaker): it is bounded by the
  caller's first-byte deadline, and ``waited_for_a_connection()`` tells the caller, once ``post`` failed,
  that it was still waiting (the sidecar's own queue: ``upstream_pool_full``, ``resilience.classify``).
  The lookup is also bounded by ``connect_s`` on its own (``BoundedResolver``, told by
  ``bound_lookup_by``), so that a hung one ends and is remembered as failed;
- ``idle_s``: the wait for the head (aiohttp's ``sock_read``), then every wait for body bytes
  (``UpstreamResponse``), raise aiohttp's ``SocketTimeoutError``; for the head only when it is shorter
  than ``first_byte_s``: otherwise the caller's first-byte deadline (below) is always due first, and
  aiohttp's read timer, armed and moved on every call, would never fire (about 11,000 instructions a
  call, bench/upstream_call_instructions.py);
- ``total_s``: the body, until the call's start plus ``total_s`` (a bare ``TimeoutError``); the head
  is bounded by ``idle_s`` and the caller's first-byte deadline.

Per provider, ``post``'s keywords are made once (only what differs from aiohttp's defaults). Once the
head is in, aiohttp's read timer (when armed) is turned off (its connection's ``read_timeout``) and the
body's timers are ``UpstreamResponse``'s, one per call, moved only when they fire: aiohttp's
``sock_read`` and ``total`` would move a timer on every network read of a stream (2-4 us of every
streamed event, bench/relay_cost.py).

The first-byte deadline is the caller's to set around ``post`` (and, for streams, around the reads
until the first content event): it depends on what is left of the request's own deadline. Since that
deadline also runs while a pooled connection is awaited and made, ``request_sent()`` tells the caller,
once ``post`` failed, whether its request had been written to a connection (a call the provider may be
answering, and may bill: ``server.billed``) or not (never sent): aiohttp's request class, ``_SentRequest``,
marks it in a context variable (per task: a hedge's two calls each see their own) when it sends. Failures
are aiohttp's exception types (and ``MalformedResponse``, ``TLSConfigError``); ``resilience.classify``
maps them to outcomes.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import Callable, Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.client_proto import ResponseHandler
from yarl import URL

from ..held_bytes import UNLIMITED_FROM, HeldBytes
from ..policy.compiled import Provider
from ..policy.resilience_plan import AttemptTimeouts
from ..settings import Settings
from .proxy import EnvProxies, Proxy, provider_proxy
from .resolver import BoundedResolver, bound_lookup_by
from .response import UpstreamResponse
from .tls import TLSContexts

KEEPALIVE_S = 15.0
DNS_CACHE_S = 60
HAPPY_EYEBALLS_DELAY_S = 0.25

_WAITING, _CONNECTING, _SENT = 0, 1, 2
_PHASE: ContextVar[int] = ContextVar("sidecar_upstream_call_phase", default=_WAITING)
"""Where the task's last ``post`` got to: waiting for a free connection (a connection limit reached; or
about to take a pooled one), making one (``_Connector``), or its request written (``_SentRequest``): a
value per task context, not state of this module (``request_sent``, ``waited_for_a_connection``)."""


class _SentRequest(aiohttp.ClientRequest):
    """aiohttp's request, marking ``_SENT`` when it is written to the connection it got (``send``)."""

    def send(self, conn: aiohttp.connector.Connection) -> Coroutine[Any, Any, aiohttp.ClientResponse]:
        # Not a coroutine of its own (aiohttp's is returned): no frame more per call. Its head and body are
        # written to the connection before its first wait (the body by a task aiohttp starts then).
        _PHASE.set(_SENT)
        return super().send(conn)


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, marking ``_CONNECTING`` when a new connection is made (past any wait for a free
    one, which aiohttp's ``connect`` does first), and bounding its making (the name lookup, the TCP connect
    of every address, the TLS handshake, a proxy's ``CONNECT``) by ``connect_s`` in all, from there: the
    session's ``ClientTimeout`` has no ``connect``, whose timer would also run during the wait (aiohttp's
    ``sock_connect``, ``connect_s`` too, bounds the TCP connect and handshake again, inside this).

    ``_create_connection`` is aiohttp's protected method, kept because no public seam does both: a
    ``ClientTimeout``'s ``connect`` covers the wait for a free connection too (the wave-28 defect), its
    ``sock_connect`` bounds each step on its own and not the lookup (several budgets, not one), and a
    ``TraceConfig``'s ``on_connection_create_start``/``_end`` could mark the phase but bound nothing, and
    costs every call about 78,000 instructions even on a pooled connection (bench/trace_config_parts.py).
    tests/upstream/test_resolver.py::test_a_new_connection_is_made_through_the_connector_method_the_sidecar_overrides
    says what breaks should aiohttp change it."""

    async def _create_connection(
        self, req: aiohttp.ClientRequest, traces: list[Any], timeout: aiohttp.ClientTimeout
    ) -> ResponseHandler:
        _PHASE.set(_CONNECTING)
        async with asyncio.timeout(timeout.sock_connect):  # raised by aiohttp as ConnectionTimeoutError
            return await super()._create_connection(req, traces, timeout)


def request_sent() -> bool:
    """Whether the calling task's last ``UpstreamClient.post`` got a connection and wrote its request to it
    (False: it failed while a connection was awaited or made: never sent)."""
    return _PHASE.get() == _SENT


def waited_for_a_connection() -> bool:
    """Whether the calling task's last ``UpstreamClient.post`` failed (its caller's deadline) while it
    waited for a free connection at the upstream connection limits: the sidecar's own queue, not the
    provider's failure."""
    return _PHASE.get() == _WAITING


@dataclass(frozen=True, slots=True)
class _Route:
    """How calls reach one provider: through which proxy, checked against which CAs."""

    provider: Provider
    # ``post``'s keywords for the route (``_post_arguments``): made once, each call unpacks them
    arguments: Mapping[str, Any]
    # the proxy's credentials on each request, for an http provider (the proxy reads the request itself)
    proxy_credentials: Mapping[str, str] | None = None


def _post_arguments(proxy: Proxy | None, context: ssl.SSLContext | bool) -> dict[str, Any]:
    """aiohttp's ``post`` keywords for a route: no redirects, and only what differs from aiohttp's defaults
    (no proxy, the system's CA store): a keyword passed costs on every call (about 1,000 instructions each,
    through ``post``'s and ``_request``'s ``**kwargs``), a default nothing."""
    arguments: dict[str, Any] = {"allow_redirects": False}
    if proxy is not None:
        arguments["proxy"] = proxy.url
        arguments["proxy_headers"] = proxy.headers
    if context is not True:
        arguments["ssl"] = context
    return arguments


class _NotOpenLoop:
    """``UpstreamClient.loop`` before ``open``: any use of it (a method, ``asyncio.current_task``'s look-up
    of it) raises the clear error instead of running in no loop."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("the upstream client is not open")

    def __hash__(self) -> int:
        raise RuntimeError("the upstream client is not open")


class UpstreamClient:
    """The process's one upstream client (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        proxies: EnvProxies,
        resolver_class: Callable[[], AbstractResolver] | None = None,
        held: HeldBytes | None = None,
    ) -> None:
        """``resolver_class``: makes the resolver that looks names up (in ``open``; aiohttp's default
        when None), wrapped in ``BoundedResolver``; ``held``: the process's account of the bytes bodies
        hold (``held_bytes``; None: one of the client's own, without a ceiling)."""
        self.held = held if held is not None else HeldBytes(UNLIMITED_FROM, "none")
        self._resolver_class = resolver_class or aiohttp.DefaultResolver
        self._limit = settings.upstream_connections
        self._limit_per_host = settings.upstream_connections_per_host
        self._max_body = settings.upstream_max_body_bytes
        self._proxies = proxies
        self._tls = TLSContexts()
        self._session: aiohttp.ClientSession | None = None
        # the session's ``post`` bound once (``open``): ``session.post`` read per call is a generic method
        # look-up in Python 3.11 (docs/benchmarks.md, "Wave 54 `plain55`")
        self._post: Callable[..., Any] | None = None
        self._resolver: BoundedResolver | None = None
        self._routes: dict[str, _Route] = {}
        # by connect_s, idle_s, first_byte_s
        self._timeouts: dict[tuple[float, float, float], aiohttp.ClientTimeout] = {}
        # The loop the client was opened in (``open``): the one every call runs in. Read instead of
        # ``asyncio.get_running_loop()``, which makes a ``getpid`` system call each time it is called
        # (CPython 3.11's check for a forked process; docs/benchmarks.md, "Wave 46 `plain47`"). A plain
        # attribute, not a property (3.11 leaves a property's read generic: "Wave 49 `plain50`"); before
        # ``open`` it is a stand-in whose every use raises the clear error.
        self.loop: asyncio.AbstractEventLoop = _NotOpenLoop()  # type: ignore[assignment]
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()  # connections seen (response.py)

    @property
    def max_body(self) -> int:
        """The most bytes of one upstream body the sidecar holds (``SIDECAR_UPSTREAM_MAX_BODY_BYTES``)."""
        return self._max_body

    def open(self) -> None:
        """Make the connector and the session (in the running loop)."""
        self.loop = asyncio.get_running_loop()
        self._resolver = resolver = BoundedResolver(self._resolver_class())
        connector = _Connector(
            limit=self._limit,
            limit_per_host=self._limit_per_host,
            keepalive_timeout=KEEPALIVE_S,
            ttl_dns_cache=DNS_CACHE_S,
            happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S,
            resolver=resolver,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
            trust_env=False,
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
            request_class=_SentRequest,
        )
        self._post = self._session.post

    async def close(self) -> None:
        """Close the session and every connection; calls in flight fail."""
        session, self._session = self._session, None
        self._post = None
        if session is not None:
            await session.close()
        resolver, self._resolver = self._resolver, None
        if resolver is not None:
            await resolver.close()  # given to the connector, not owned by it

    def refresh(self) -> list[str]:
        """Rebuild the TLS contexts whose files changed; returns the files re-read (for the log)."""
        changed = self._tls.refresh()
        if changed:
            self._routes.clear()  # routes hold contexts: made again, with the new ones
        return changed

    def check_tls(self, provider: Provider) -> None:
        """Make sure ``provider``'s ``tls`` files give a context (built once, then kept: a file briefly
        unreadable later does not matter); raises ``TLSConfigError`` naming the file that cannot be used.
        Called before the call's breaker permit and bulkhead slot (``server.calls``): such a provider is
        skipped (``tls_config``), never called."""
        if provider.tls is not None:
            self._tls.context_for(provider.tls)

    async def post(
        self, provider: Provider, url: str, headers: Mapping[str, str], body: bytes, timeouts: AttemptTimeouts
    ) -> UpstreamResponse:
        """Send ``body`` to ``url`` (one of ``provider``'s); returns at the response's head.

        Raises aiohttp's ``ClientError`` types, ``TimeoutError`` subclasses, ``MalformedResponse`` (a head
        the sidecar will not relay) and ``TLSConfigError`` (the provider's ``tls`` files).
        """
        post = self._post
        if post is None:
            raise RuntimeError("the upstream client is not open")
        route = self._route(provider)
        loop = self.loop
        total_by = loop.time() + timeouts.total_s
        if route.proxy_credentials is not None:
            headers = {**headers, **route.proxy_credentials}
        timeout = self._timeout(timeouts)
        _PHASE.set(_WAITING)
        bound_lookup_by(timeouts.connect_s)
        response: aiohttp.ClientResponse = await post(
            url, data=body, headers=headers, timeout=timeout, **route.arguments
        )
        if timeout.sock_read is not None:
            connection = response.connection
            if connection is not None and connection.protocol is not None:
                connection.protocol.read_timeout = None  # the body's timers are UpstreamResponse's
        return UpstreamResponse(
            response, self._max_body, self._watched, loop, self.held, idle_s=timeouts.idle_s, total_by=total_by
        )

    async def forward(
        self,
        provider: Provider,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Any,
        timeouts: AttemptTimeouts,
    ) -> aiohttp.ClientResponse:
        """A passthrough call (``server.forward``): ``method`` on ``url`` with ``body`` (None, or an async
        iterable of bytes, streamed); returns aiohttp's response at its head, its body unread and as sent
        (not decompressed). The provider's route (proxy, TLS) as for ``post``; ``connect_s`` bounds the
        making of a connection, ``first_byte_s`` the head from the body's last byte written (aiohttp's
        read timer starts then), and then ``idle_s`` each wait for the answer's bytes. Raises as ``post``."""
        session = self._session
        if session is None:
            raise RuntimeError("the upstream client is not open")
        route = self._route(provider)
        if route.proxy_credentials is not None:
            headers = {**headers, **route.proxy_credentials}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect_s, sock_read=timeouts.first_byte_s)
        _PHASE.set(_WAITING)
        bound_lookup_by(timeouts.connect_s)
        target = URL(url, encoded=True)  # as the app sent it: yarl would re-quote its query (%2F as /)
        response = await session.request(
            method, target, data=body, headers=headers, timeout=timeout, auto_decompress=False, **route.arguments
        )
        connection = response.connection
        if connection is not None and connection.protocol is not None:
            connection.protocol.read_timeout = timeouts.idle_s
            connection.protocol.start_timeout()  # the answer's bytes: idle_s from now, then from each read
        return response

    def _route(self, provider: Provider) -> _Route:
        route = self._routes.get(provider.name)
        if route is not None and route.provider is provider:
            return route
        tls = provider.tls
        context: ssl.SSLContext | bool = self._tls.context_for(tls) if tls is not None else True
        proxy = provider_proxy(provider.proxy, provider.base_url, self._proxies)
        plain = proxy is not None and provider.base_url.startswith("http://")
        credentials = proxy.headers if plain and proxy is not None else None
        route = _Route(provider, _post_arguments(proxy, context), credentials)
        self._routes[provider.name] = route
        return route

    def _timeout(self, timeouts: AttemptTimeouts) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for a call: ``connect_s``; and ``idle_s`` for the head (``sock_read``) only when
        it is shorter than ``first_byte_s``: otherwise the caller's first-byte deadline, made before the
        call and due no later than ``first_byte_s`` after it, always ends the wait first, and aiohttp's read
        timer (armed when the request is written, moved when bytes arrive) would never fire."""
        key = (timeouts.connect_s, timeouts.idle_s, timeouts.first_byte_s)
        timeout = self._timeouts.get(key)
        if timeout is None:
            read_s = timeouts.idle_s if timeouts.idle_s < timeouts.first_byte_s else None
            connect_s = timeouts.connect_s  # the making of a connection alone (``_Connector``), not the wait
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_s, sock_read=read_s)
            self._timeouts[key] = timeout
        return timeout
