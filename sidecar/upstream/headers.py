"""Which headers cross the sidecar, in each direction (RFC 9110 7.6.1: hop-by-hop headers stay on their hop).

To the upstream, ``UpstreamHeaders``: the app's headers pass, except

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

To the app, ``RelayHeaders``: the upstream's headers pass, except the same hop-by-hop set (and what
the upstream's ``Connection`` names), what described the upstream's body (it was decoded, and the
listener frames what it sends), ``Set-Cookie`` (the sidecar is shared by every caller of the pod),
``Date``, ``Server``, ``Alt-Svc`` (about the provider's origin, not the sidecar) and ``x-sidecar-*``
(the sidecar's own, set by it alone); and a field whose value is not UTF-8 (the app would read it cut
short). A field sent on several lines is joined into one, both ways.

Each header name's verdict (dropped, the hop-by-hop ``Connection``, or kept under its lower-case name)
depends on the name alone, under one set of rules (a direction, its drop set, the caller's dialect's
protocol headers when the request crosses dialects), so it is worked out once and remembered per name
as received, in a ``NameVerdicts`` owned by the server (``UpstreamHeaders`` and ``RelayHeaders``, made
once by ``server.attempt.Attempt``): the next request's ``lower()`` and drop tests are one dict
lookup. aiohttp's parser hands the same name object for the same name on every request, so the
lookup's hash is already computed. At most ``NAMES_REMEMBERED`` names are kept per set of rules; an app
or provider sending ever new names gets the rest worked out each time, as before, and memory stays
bounded.
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
ANSWER_DROP = RESPONSE_DROP | {"content-type"}  # a whole answer's: its type is set once, by the server
STREAM_DROP = RESPONSE_DROP | {"content-type", "cache-control"}  # a stream's: the server sets both


NAMES_REMEMBERED = 256
"""How many header names' verdicts one ``NameVerdicts`` keeps (the names an app and its providers send
are a few dozen; beyond this, a name's verdict is worked out on each request)."""
DROP = ""  # a name's verdict: not forwarded
CONNECTION = " "  # not forwarded, and its value names more headers not to forward (no name holds a space)


class NameVerdicts:
    """Each header name's verdict under one set of rules (a name in ``drop`` or starting with one of
    ``prefixes``: ``DROP``, or ``CONNECTION`` for that one; else the name in lower case), remembered per
    name as received, for at most ``NAMES_REMEMBERED`` names."""

    __slots__ = ("drop", "known", "prefixes")

    def __init__(self, drop: frozenset[str], prefixes: tuple[str, ...]) -> None:
        self.drop = drop
        self.prefixes = prefixes
        self.known: dict[str, str] = {}  # read directly by the filters' loops: ``judge`` on a miss

    def judge(self, name: str) -> str:
        """``name``'s verdict, worked out (and remembered while there is room)."""
        lower = name.lower()
        if lower in self.drop or lower.startswith(self.prefixes):
            verdict = CONNECTION if lower == "connection" else DROP
        else:
            verdict = lower
        if len(self.known) < NAMES_REMEMBERED:
            self.known[name] = verdict
        return verdict


class UpstreamHeaders:
    """The headers of upstream requests, with each name's verdict remembered per
    caller dialect crossed from (its protocol headers dropped too) or none (a same-dialect call)."""

    __slots__ = ("_across", "_same")

    def __init__(self) -> None:
        self._same = NameVerdicts(_REQUEST_DROP, _PREFIXES)
        self._across: dict[Dialect, NameVerdicts] = {}  # one per caller dialect: as many as are registered

    def __call__(
        self, app_headers: Mapping[str, str], provider: Provider, caller: Dialect, wire: Dialect, key: str | None
    ) -> dict[str, str]:
        """Headers for the upstream request; ``key`` goes where the provider's API reads it."""
        verdicts = self._same if caller is wire else self._across_from(caller)
        known, judge = verdicts.known, verdicts.judge
        headers: dict[str, str] = {}
        connection: list[str] = []
        for name, value in app_headers.items():
            lower = known.get(name)
            if lower is None:
                lower = judge(name)
            if lower is CONNECTION:
                connection.append(value)
            elif lower:
                # aiohttp gives a repeated field once per line: joined, as one field (RFC 9110 5.3)
                headers[lower] = f"{headers[lower]}, {value}" if lower in headers else value
        if connection:
            for named in _connection_options(connection):  # before the sidecar's own: they are the app's only
                headers.pop(named, None)
        upstream = registry.wire(wire)
        headers["content-type"] = "application/json"
        upstream.add_protocol_headers(headers)
        for name, value in provider.headers:
            headers[name] = value
        if key is not None:
            name, value = provider.api.credentials(upstream, key)
            headers[name] = value
        return headers

    def remembered(self) -> int:
        """How many names' verdicts it holds, for every caller dialect (at most ``NAMES_REMEMBERED`` each)."""
        return len(self._same.known) + sum(len(verdicts.known) for verdicts in self._across.values())

    def _across_from(self, caller: Dialect) -> NameVerdicts:
        verdicts = self._across.get(caller)
        if verdicts is None:
            prefixes = _PREFIXES + registry.wire(caller).protocol_headers
            verdicts = self._across[caller] = NameVerdicts(_REQUEST_DROP, prefixes)
        return verdicts


class RelayHeaders:
    """The upstream's response headers that may reach the app, for one ``drop`` set
    (lower-case, a superset of ``RESPONSE_DROP``: it lists what the caller sets itself), with each
    name's verdict remembered."""

    __slots__ = ("_verdicts",)

    def __init__(self, drop: frozenset[str] = RESPONSE_DROP) -> None:
        self._verdicts = NameVerdicts(drop, _PREFIXES)

    def remembered(self) -> int:
        """How many names' verdicts it holds (at most ``NAMES_REMEMBERED``)."""
        return len(self._verdicts.known)

    def __call__(self, upstream: Iterable[tuple[str, str]]) -> dict[str, str]:
        """The headers of ``upstream`` (``items()``) that reach the app, names as sent. A value holding bytes
        that are not UTF-8 (RFC 9110 5.5 allows Latin-1; aiohttp's client reads them as escapes) is left
        out: aiohttp's server skips the escapes, so the app would read a shorter value (``req_caf\xe9`` as
        ``req_caf``, another request id), and a UTF-8 rewrite of it reads differently in each SDK (httpx as
        UTF-8, Node's fetch as Latin-1)."""
        known, judge = self._verdicts.known, self._verdicts.judge
        headers: dict[str, str] = {}
        connection: list[str] = []
        for name, value in upstream:
            verdict = known.get(name)
            if verdict is None:
                verdict = judge(name)
            if verdict is CONNECTION:
                if value.lower() not in _NAMES_NOTHING:
                    connection.append(value)
            elif verdict and (value.isascii() or _utf8(value)):  # else the listener would write it cut
                # a field sent on several lines (two ``Link``, two ``Vary``) is joined into one (RFC 9110
                # 5.3), not cut to its last line
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
