"""The provider key a call sent, taken out of what the upstream said back before an app sees it.

Some providers quote the key in their error message ("Incorrect API key provided: sk-..."), in an error
body (``without_key``, on non-2xx bodies), in an error event streamed after a 200 (``event_without_key``,
on events that may be errors) or in a response header (``headers_without_key``: ``WWW-Authenticate``'s
``error_description``, a debugging echo; on every answer's relayed headers). What they say goes to the
app, which must never learn the sidecar's keys. One substring search per body, event or header value
looked at; the key is replaced by ``REDACTED_KEY``.
"""

from __future__ import annotations

from ..sse import SSEEvent

REDACTED_KEY = b"[key redacted by llm-sidecar]"
_REDACTED_TEXT = REDACTED_KEY.decode()


def without_key(body: bytes, key: str | None) -> bytes:
    """``body`` with ``key`` replaced wherever it appears."""
    if not key:
        return body
    return body.replace(key.encode(), REDACTED_KEY)  # the same object when the key is not in it


def headers_without_key(headers: dict[str, str], key: str | None) -> dict[str, str]:
    """``headers`` (changed in place) with ``key`` replaced in every value that holds it."""
    if key:
        for name, value in headers.items():
            if key in value:
                headers[name] = value.replace(key, _REDACTED_TEXT)
    return headers


def event_without_key(event: SSEEvent, key: str | None) -> SSEEvent:
    """``event`` (its data and its raw bytes) with ``key`` replaced; the same event when it has none."""
    if not key or event.data.find(key.encode()) < 0:
        return event
    return event._replace(data=without_key(event.data, key), raw=without_key(event.raw, key))
