"""Which headers cross the sidecar, in each direction (RFC 9110 7.6.1: hop-by-hop headers stay on their hop).

To the upstream, ``upstream_headers``: the app's headers pass, except

- hop-by-hop ones: ``Connection`` and every header it names, ``Keep-Alive``, ``TE``, ``Trailer``,
  ``Transfer-Encoding``, ``Upgrade``, ``HTTP2-Settings``, ``Proxy-*``, and ``Expect`` (the app's
  ``100-continue`` was answered by the listener);
- what describes the app's body, which the sidecar re-serializes: ``Content-Length``,
  ``Content-Encoding``, ``Content-MD5``, ``Content-Digest``, ``Repr-Digest``, ``Digest``; and
  ``Host`` and ``Accept-Encoding``, which the client sets for its own connection;
- the app's credentials and cookies (the provider's key is the sidecar's to set), the sidecar's
  ``x-sidecar-*`` controls, and, across dialects, the caller dialect's protocol headers
  (``WireDialect.protocol_headers``).

Then come the headers the dialect's API requires (``WireDialect.add_protocol_headers``: Anthropic's
``anthropic-version``), the provider's ``headers`` from the policy, and its key in the header its API
reads (``ProviderAPI.credentials``). Names go out lower-case.

To the app, ``relay_headers``: the upstream's headers pass, except the same hop-by-hop set (and what
the upstream's ``Connection`` names), what described the upstream's body (it was decoded, and the
listener frames what it sends), ``Set-Cookie`` (the sidecar is shared by every caller of the pod),
``Date``, ``Server``, ``Alt-Svc`` (about the provider's origin, not the sidecar) and ``x-sidecar-*``
(the sidecar's own, set by it alone); and a field whose value is not UTF-8 (the app would read it cut
short). A field sent on several lines is joined into one, both ways.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..dialects import Dialect, registry
from ..policy.compiled import Provider

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "http2-settings",
    }
)
# What describes a body that the sidecar does not forward as it came.
BODY_DESCRIPTION = frozenset(
    {"content-length", "content-encoding", "content-md5", "content-digest", "repr-digest", "digest"}
)
_PREFIXES = ("x-sidecar-", "proxy-")
# Never forwarded upstream: this hop's, recomputed, or ours to set.
_REQUEST_DROP = (
    HOP_BY_HOP
    | BODY_DESCRIPTION
    | {"expect", "host", "accept-encoding", "authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"}
)
# Never relayed back to the app.
RESPONSE_DROP = HOP_BY_HOP | BODY_DESCRIPTION | {"set-cookie", "date", "server", "alt-svc"}


def upstream_headers(
    app_headers: Mapping[str, str], provider: Provider, caller: Dialect, wire: Dialect, key: str | None
) -> dict[str, str]:
    """Headers for the upstream request; ``key`` goes where the provider's API reads it."""
    upstream = registry.wire(wire)
    foreign = registry.wire(caller).protocol_headers if caller is not wire else ()
    headers: dict[str, str] = {}
    connection: list[str] = []
    for name, value in app_headers.items():
        lower = name.lower()
        if lower in _REQUEST_DROP or lower.startswith(_PREFIXES):
            if lower == "connection":
                connection.append(value)
            continue
        if foreign and lower.startswith(foreign):
            continue
        # aiohttp gives a repeated field once per line: joined, as one field (RFC 9110 5.3)
        headers[lower] = f"{headers[lower]}, {value}" if lower in headers else value
    if connection:
        for named in _connection_options(connection):  # before the sidecar's own: they are the app's only
            headers.pop(named, None)
    headers["content-type"] = "application/json"
    upstream.add_protocol_headers(headers)
    for name, value in provider.headers:
        headers[name] = value
    if key is not None:
        name, value = provider.api.credentials(upstream, key)
        headers[name] = value
    return headers


def relay_headers(upstream: Iterable[tuple[str, str]], drop: frozenset[str] = RESPONSE_DROP) -> dict[str, str]:
    """The upstream's response headers (``items()``) that may reach the app, names as sent; ``drop``
    (lower-case, a superset of ``RESPONSE_DROP``) lists what the caller sets itself. A value holding bytes
    that are not UTF-8 (RFC 9110 5.5 allows Latin-1; aiohttp's client reads them as escapes) is left out:
    aiohttp's server skips the escapes, so the app would read a shorter value (``req_caf\xe9`` as
    ``req_caf``, another request id), and a UTF-8 rewrite of it reads differently in each SDK (httpx as
    UTF-8, Node's fetch as Latin-1)."""
    headers: dict[str, str] = {}
    connection: list[str] = []
    for name, value in upstream:
        lower = name.lower()
        if lower in drop or lower.startswith(_PREFIXES):
            if lower == "connection" and value.lower() not in _NAMES_NOTHING:
                connection.append(value)
            continue
        if not value.isascii() and not _utf8(value):
            continue  # bytes that are not UTF-8: the listener would write the value cut (``relay_headers``)
        # a field sent on several lines (two ``Link``, two ``Vary``) is joined into one (RFC 9110 5.3),
        # not cut to its last line
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if connection:
        named = _connection_options(connection)
        for name in [name for name in headers if name.lower() in named]:
            del headers[name]
    return headers


def _utf8(value: str) -> bool:
    """Whether a header value aiohttp's client read was UTF-8 (it reads other bytes as lone surrogates)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


_NAMES_NOTHING = frozenset({"keep-alive", "close"})  # the usual whole ``Connection`` values: no header named


def _connection_options(values: list[str]) -> set[str]:
    """The header names listed in ``Connection`` values (``close`` and ``keep-alive`` name no header)."""
    return {token.strip().lower() for value in values for token in value.split(",")} - {"", "close", "keep-alive"}
