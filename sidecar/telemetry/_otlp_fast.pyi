"""Type stub of the C fast path (``_otlp_fast.c``); see ``otlp_encode``."""

from typing import Any

from .spans import LiteTracer, SpanRecord

class SpanWriter:
    def __init__(
        self,
        server_shapes: dict[Any, Any],
        client_shapes: dict[Any, Any],
        fallback: Any,
        server_type: type,
        client_type: type,
        packed_server_type: type,
        packed_client_type: type,
        usage_type: type,
    ) -> None: ...
    def __call__(self, record: SpanRecord, /) -> tuple[LiteTracer, bytes]: ...
