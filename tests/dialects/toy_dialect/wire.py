"""The toy dialect's object and its provider kind: what the registry lists (``WIRE``, ``APIS``). The
package names itself: ``TOY`` and ``TOY_KIND`` are the only instances of those names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...sse import SSEEvent
from .. import Dialect, Operation, ProviderKind
from ..base import Endpoint, ProviderAPI, WireDialect, error_raises
from . import bodies as _bodies
from . import features as _features
from .translation import TOY, TRANSLATION

TOY_KIND = ProviderKind("toy")


class ToyWire(WireDialect):
    dialect = TOY
    name = "Toy"
    endpoints = (Endpoint(TOY, Operation.CHAT, "/toy/v1/generate"),)
    paths = {Operation.CHAT: "/toy/v1/generate"}
    protocol_headers = ("x-toy-",)
    translation = TRANSLATION
    bodies = _bodies
    feature_walkers = _features.WALKERS
    response_id_prefix = "toy-"
    transport_fields = frozenset(("stream",))

    def claims_path(self, path: str, headers: Mapping[str, str] | None) -> bool:
        return path.startswith("/toy/")

    def credentials(self, key: str) -> tuple[str, str]:
        return "x-toy-key", key

    def same_dialect_body(
        self, body: dict[str, Any], raw: bytes, model: str, operation: Operation, stream: bool, *, max_tokens: int
    ) -> bytes:
        return orjson.dumps({**body, "model": model})

    def finish_translated_body(self, body: dict[str, Any], operation: Operation, stream: bool) -> None:
        body["stream"] = stream

    # The toy streams its chat only, which ends with ``event: done``: asked about another operation's
    # stream, it knows no end (a caller's operation other than its chat must not reach it: the relay asks
    # with the operation the target was called for)
    def is_terminal(self, operation: Operation, event: SSEEvent) -> bool:
        return operation is Operation.CHAT and event.event == "done"

    def may_end(self, operation: Operation, chunk: bytes) -> bool:
        return operation is Operation.CHAT and b"done" in chunk

    def error_event_raises(self, event: SSEEvent) -> bool:
        return error_raises(event, name="error")


class ToyAPI(ProviderAPI):
    kind = TOY_KIND

    def wire(self, caller: Dialect, speaks: Dialect | None) -> Dialect:
        return TOY


WIRE = ToyWire()
APIS = (ToyAPI(),)
