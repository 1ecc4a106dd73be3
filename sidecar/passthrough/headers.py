"""Which headers cross a passthrough, each way: the rules of ``upstream.headers`` where they hold, and
what describes the body kept, since the body crosses as it was sent.

To the provider (``ForwardHeaders``): the app's headers, except the hop-by-hop ones (``Connection`` and
what it names, ``Keep-Alive``, ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``, ``Proxy-*``...),
``Expect`` (this hop's, answered by the sidecar), ``Host`` (the client's to set), ``Cookie`` (the
sidecar serves every caller of the pod), the app's credentials (``Authorization``, ``x-api-key``,
``api-key``, ``x-goog-api-key``) and the sidecar's ``x-sidecar-*``. ``Content-Type`` (a multipart
boundary), ``Content-Length``, ``Content-Encoding`` and the app's protocol headers (``anthropic-version``,
``anthropic-beta``, ``OpenAI-Beta``, ``x-goog-upload-*``) pass as sent; ``Accept-Encoding`` too (the answer
is relayed undecoded, in a coding the app accepts), ``identity`` when the app sent none. Then the
provider's ``headers`` from the policy and its key, in the header its API reads. ``with_trace_context``
then puts the call's own ``traceparent`` (and ``tracestate``) in place of the app's.

To the app (``answer_headers``): the provider's, except the hop-by-hop set, ``Set-Cookie``, ``Date``,
``Server``, ``Alt-Svc``, ``x-sidecar-*``, the names of the account the provider's key belongs to
(``openai-organization``, ``openai-project``, ``anthropic-organization-id``) and any header whose value
holds the key sent. ``Content-Length`` and ``Content-Encoding`` stay: the body is relayed byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..dialects import Dialect, registry
from ..policy.compiled import Provider
from ..upstream.headers import HOP_BY_HOP, RelayHeaders

_PREFIXES = ("x-sidecar-", "proxy-")
FORWARD_DROP = HOP_BY_HOP | {"expect", "host", "cookie", "authorization", "x-api-key", "api-key", "x-goog-api-key"}
"""The app's headers never forwarded (lower case; ``x-sidecar-*`` and ``proxy-*`` too)."""
ACCOUNT_HEADERS = frozenset({"openai-organization", "openai-project", "anthropic-organization-id"})
ANSWER_DROP = HOP_BY_HOP | {"set-cookie", "date", "server", "alt-svc"} | ACCOUNT_HEADERS
"""The provider's headers never relayed (lower case; ``x-sidecar-*`` too)."""


class ForwardHeaders:
    """The headers of passthrough calls: the app's through ``RelayHeaders`` (its rules, with
    ``FORWARD_DROP``: each name's verdict remembered, ``Connection``'s names dropped, a value that is not
    UTF-8 left out), then the provider's."""

    __slots__ = ("_relay",)

    def __init__(self) -> None:
        self._relay = RelayHeaders(FORWARD_DROP)

    def __call__(
        self, app_headers: Mapping[str, str], provider: Provider, dialect: Dialect, key: str | None
    ) -> dict[str, str]:
        """The headers sent to ``provider`` (spoken to in ``dialect``) for a request with ``app_headers``;
        ``key`` where its API reads it."""
        headers = self._relay(app_headers.items())
        own = list(provider.headers)
        if key is not None:
            own.append(provider.api.credentials(registry.wire(dialect), key))
        names = {name for name, _ in own}
        if "accept-encoding" not in names:
            names.add("accept-encoding")
            own.append(("accept-encoding", _encodings_of(headers)))
        for name in [name for name in headers if name.lower() in names]:  # the app's, in any case
            del headers[name]
        headers.update(own)
        return headers


TRACE_CONTEXT = frozenset({"traceparent", "tracestate"})


def with_trace_context(headers: dict[str, str], trace_context: Mapping[str, str]) -> None:
    """``headers`` (``ForwardHeaders``') with the sidecar's W3C trace context in place of the app's
    (``RequestTrace.forwarding``: the call's own CLIENT span is the provider's parent, as for a chat call)."""
    for name in [name for name in headers if name.lower() in TRACE_CONTEXT]:
        del headers[name]
    headers.update(trace_context)


def _encodings_of(headers: Mapping[str, str]) -> str:
    """The app's ``Accept-Encoding`` (the answer is relayed undecoded), ``identity`` when it sent none."""
    return next((value for name, value in headers.items() if name.lower() == "accept-encoding"), "identity")


class AnswerHeaders:
    """The provider's answer headers that reach the app (see the module docstring)."""

    __slots__ = ("_relay",)

    def __init__(self) -> None:
        self._relay = RelayHeaders(ANSWER_DROP)

    def __call__(self, upstream: Iterable[tuple[str, str]], key: str | None) -> dict[str, str]:
        headers = self._relay(upstream)
        if key:
            for name in [name for name, value in headers.items() if key in value]:
                del headers[name]
        return headers
