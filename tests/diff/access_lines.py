"""Access log lines as the sidecar writes them, for ``diff``'s replay: ``access`` (any fields over a
served chat request's) and ``chat`` (a request for ``model`` routed by ``route`` to ``served``)."""

from __future__ import annotations

from typing import Any

import orjson


def access(**fields: Any) -> bytes:
    line = {
        "component": "sidecar.access",
        "event": "access",
        "level": "info",
        "method": "POST",
        "path": "/v1/chat/completions",
        "dialect": "openai",
        "status": 200,
        "outcome": "ok",
        "policy_version": "abbf536caaaf",
        **fields,
    }
    return orjson.dumps(line)


def chat(model: str, route: str, served: str, tokens: tuple[int, int] = (1000, 100)) -> bytes:
    return access(
        requested_model=model, route=route, served_model=served, input_tokens=tokens[0], output_tokens=tokens[1]
    )
