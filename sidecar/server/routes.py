"""Which handler answers a method and path: the table is built once, a lookup is a dict access.

Paths are exact (``/v1/chat/completions``) or have one ``{name}`` segment (``/v1beta/models/{tail}``,
``/openai/deployments/{model}/chat/completions``): the segment is any non-empty text without ``/``,
given to the handler in ``request.match_info``. ``HEAD`` is answered by the ``GET`` handler (the
listener sends no body). Anything else goes to the fallback handler (the caller's dialect's 404).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..http1.messages import Request, Response, StreamResponse
from ..http1.server import Handler


@dataclass(frozen=True, slots=True)
class _Pattern:
    prefix: str
    suffix: str
    name: str
    handlers: dict[str, Handler]


class Router:
    def __init__(self, fallback: Handler) -> None:
        self.fallback = fallback
        self._exact: dict[str, dict[str, Handler]] = {}
        self._patterns: list[_Pattern] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        methods = [method, "HEAD"] if method == "GET" else [method]
        if "{" not in path:
            table = self._exact.setdefault(path, {})
        else:
            prefix, _, rest = path.partition("{")
            name, _, suffix = rest.partition("}")
            if "{" in suffix or not name:
                raise ValueError(f"one {{name}} segment per path: {path!r}")
            found = [p for p in self._patterns if (p.prefix, p.suffix, p.name) == (prefix, suffix, name)]
            if found:
                table = found[0].handlers
            else:
                table = {}
                self._patterns.append(_Pattern(prefix, suffix, name, table))
        for m in methods:
            table[m] = handler

    async def __call__(self, request: Request) -> Response | StreamResponse:
        path = request.path
        table = self._exact.get(path)
        if table is not None:
            handler = table.get(request.method)
            if handler is not None:
                return await handler(request)
        for pattern in self._patterns:
            if path.startswith(pattern.prefix) and path.endswith(pattern.suffix):
                value = path[len(pattern.prefix) : len(path) - len(pattern.suffix)]
                if value and "/" not in value:  # empty too when prefix and suffix overlap
                    handler = pattern.handlers.get(request.method)
                    if handler is not None:
                        request.match_info[pattern.name] = value
                        return await handler(request)
        return await self.fallback(request)
