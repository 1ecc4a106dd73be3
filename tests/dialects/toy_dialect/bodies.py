"""What the sidecar's features read and write in a toy request body (its ``WireDialect.bodies``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import Operation


def output_limit(body: dict[str, Any], operation: Operation) -> Any:
    return body.get("max_tokens")


def set_output_limit(body: dict[str, Any], operation: Operation, value: int) -> dict[str, Any]:
    return {**body, "max_tokens": value}


def append_turns(body: Mapping[str, Any], operation: Operation, said: str, prompt: str) -> dict[str, Any]:
    return {**body, "prompt": f"{body.get('prompt', '')}\n{said}\n{prompt}"}


def cache_unfaithful(body: Mapping[str, Any], raw: bytes) -> str | None:
    return None  # a toy answer is text and usage: the common form keeps all of it
