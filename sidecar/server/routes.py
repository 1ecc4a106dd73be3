"""The path table: the one handler a ``listener.Listener`` hands every request it parses, and what it
checks before a request reaches the handler of its method and path.

    routes = Routes([(method, path, handler), ...], fallback=..., max_body=..., serves={template: ...})
    Listener(routes, ...)                 the listener serves it (``listener``)
    routes.handler(method, path)          the handler a request goes to
    routes.templates(method)              every path template routed on ``method``

The table is a dict of the exact paths and a list of the templated ones (``{name}``: one segment,
``{name+}``: one or more, for a model name holding '/'), built
once; aiohttp's router, ``web.Application``, its signals and middlewares are not used (about 31,000
instructions a request less: docs/benchmarks.md, "The listener"). For every request, in order:

1. ``Expect: 100-continue`` (``announced_too_large``): 413 without ``100 Continue`` when the announced
   body does not fit ``max_body`` (answered by ``refuse``); else the ``100`` waits for the handler to read the body
   (``request_kinds.Request.read``), and an answer that goes out before it (a path not served, a method
   refused) closes the connection, its client never having been asked for the body (RFC 9110 10.1.1);
2. what llhttp accepts but the sidecar must not: a target that does not percent-decode to UTF-8 without
   control characters (``target_problem``), a ``Transfer-Encoding`` without chunked framing (an
   ``UnframedRequest``), an HTTP version other than 1.0 and 1.1 (the listener made the request an
   ``UnservedVersionRequest``, whose answer's status line says HTTP/1.1): 400 / 505 in the dialect the
   path suggests, and the connection closes;
3. the handler of the method and path, the connection marked busy (``Connection.in_request``: its
   receive deadline does not run while the handler has the request); a path served for other methods
   only is answered 405 with ``Allow`` (``method_not_allowed``, in the dialect the path suggests: RFC
   9110 15.5.6; answered by ``refuse``), any other path by ``fallback``. ``refuse`` is ``unrecorded`` on
   the health port, ``refusals.Refusals`` on the proxy port (the sidecar's headers, the access line and
   the metrics of each refusal, with ``fallback``'s 404: ``Refusals.not_found``). Only a request that
   matches no route looks for the path's methods: a served method's lookup is the dict get or the
   template match it always was.
   ``Allow`` lists the methods that serve that very path (RFC 9110 10.2.1): a template whose handler
   answers only some of the paths it matches names them in ``serves`` (``/v1/models/{tail}`` takes
   POST for Gemini's ``x:generateContent`` only, ``/v1/models/{model+}`` GET for a model name only).
   With a ``passthrough`` (``server.forward``), a request no route serves is first offered to it:
   the policy may forward it to a provider as it is (then its own body limit applies, not ``max_body``'s
   ``Expect`` check of step 1); a routed method and path is never offered, save a path its template's
   handler does not serve (``serves``: Gemini's ``x:batchGenerateContent``, a method the sidecar does not
   interpret), which, when not forwarded, gets the template's ``unserved`` answer (the proxy port's Gemini
   404, before the body is read: ``refusals.Refusals.unserved``), else goes on to that handler (its own
   405: ``GET`` on a Gemini method path);
4. an answer written while the listener drains says ``Connection: close``; an answer the handler has
   not begun is begun here (``begin``), so that a header value with a line break is answered with a 500.

What happens to a request before (parsing, caps, llhttp's refusals) and the ``Server`` header of every
answer (refusals included) are the listener's (``listener``); this module reads only the public state of
its ``Connection`` (``in_request``, ``listener.draining``).
"""

from __future__ import annotations

import re
from asyncio import current_task
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol
from urllib.parse import unquote_to_bytes

from aiohttp import web

from ..dialects.base import path_pattern
from ..dialects.registry import dialect_of_path
from ..telemetry.logging import get_logger
from .errors import RequestFailed, error_response
from .listener import Connection
from .request_kinds import UnframedRequest, UnservedVersionRequest, awaits_continue

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
log = get_logger("sidecar.listener")  # the listener's log, as its refusals are

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
Passthrough = Callable[[web.BaseRequest], Awaitable[web.StreamResponse | None]]
"""The answer to a request no route serves, or None (``server.forward.Passthrough``)."""


class Refuse(Protocol):
    """How the table answers its own refusals (a 405, an ``Expect`` body too large): ``unrecorded`` (the
    health port's), or ``refusals.Refusals`` (the proxy port's: headers, access line, metrics)."""

    async def __call__(
        self, request: web.BaseRequest, failure: RequestFailed, *, close: bool = False
    ) -> web.StreamResponse: ...


async def unrecorded(request: web.BaseRequest, failure: RequestFailed, *, close: bool = False) -> web.StreamResponse:
    """``failure`` in the dialect the path suggests, recorded nowhere: the health port's ``Refuse``
    (the proxy port's records each refusal: ``refusals.Refusals``); ``close``: the connection closes."""
    response = error_response(dialect_of_path(request.path, request.headers), failure)
    if close:
        response.force_close()
    return response


def target_problem(raw_path: str) -> str | None:
    """Why a request target (path and query, as sent) is refused, or None.

    llhttp refuses raw control bytes and bytes above 0x7f in it; what it cannot see is percent-encoded:
    the target must decode to UTF-8 without control characters (the path reaches upstream URLs, and a
    query's ``key`` an upstream header).
    """
    if "%" not in raw_path:
        return None
    try:
        decoded = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        return "the request target does not percent-decode to UTF-8"
    if _CONTROL.search(decoded):
        return "the request target holds an encoded control character"
    return None


class Routes:
    """The listener's one handler (aiohttp's low-level ``web.Server`` calls it for every request): the
    checks of the module docstring, then the handler of the request's method and path.

    ``routes`` are (method, path, handler); a GET route answers HEAD too; a path's ``{name}`` part is one
    segment, a ``{name+}`` part one or more; the first route of a method and path wins; another method on
    a routed path is a 405 naming the path's methods; ``fallback`` answers every other path; bodies up to
    ``max_body`` (the listener gives each request that limit)."""

    __slots__ = (
        "_exact",
        "_exact_methods",
        "_serves",
        "_templated",
        "_unrouted",
        "_unserved",
        "fallback",
        "max_body",
        "passthrough",
        "refuse",
    )

    def __init__(
        self,
        routes: Sequence[tuple[str, str, Handler]],
        *,
        fallback: Handler,
        max_body: int,
        serves: Mapping[str, Callable[[str], bool]] | None = None,
        passthrough: Passthrough | None = None,
        refuse: Refuse = unrecorded,
        unserved: Mapping[str, Handler] | None = None,
    ) -> None:
        """``serves``: by path template, which of the paths it matches its handler answers (the others
        it refuses as a 404 or 405 of its own), for the 405's ``Allow``; every one when not given.
        ``passthrough``: asked first for a request no route serves (its answer, or None). ``refuse``: how
        the table's own refusals are answered (a 405, the 413 of an ``Expect`` body too large). ``unserved``:
        by path template, what answers a path it matches but does not serve, not forwarded (the template's
        own handler when not given: ``get_model``'s 405; a body-reading one's refusal is named here, so that
        the path is refused before the body is read)."""
        self._serves = dict(serves or {})
        self._unserved = dict(unserved or {})
        self._exact: dict[tuple[str, str], Handler] = {}
        self._exact_methods: dict[str, list[str]] = {}  # path -> its methods, for the 405's Allow
        # (method, pattern, handler, template, offered): ``offered``, with a passthrough, is the template's
        # ``serves``: a path its handler does not answer is offered to the passthrough first
        self._templated: list[tuple[str, re.Pattern[str], Handler, str, Callable[[str], bool] | None]] = []
        for method, path, handler in routes:
            pattern = path_pattern(path)
            offered = self._serves.get(path) if passthrough is not None else None
            for each in (method, "HEAD") if method == "GET" else (method,):
                if pattern is None:
                    self._exact.setdefault((each, path), handler)
                    methods = self._exact_methods.setdefault(path, [])
                    methods += [] if each in methods else [each]
                else:
                    self._templated.append((each, pattern, handler, path, offered))
        self.fallback = fallback
        self.max_body = max_body
        self.passthrough = passthrough
        self.refuse = refuse
        self._unrouted: Handler = self.unrouted  # one bound method, told apart by identity (``__call__``)

    def handler(self, method: str, path: str) -> Handler:
        """The handler of ``method`` on ``path``: its route's, else (with a ``passthrough``) ``unrouted``,
        else ``method_not_allowed`` when the path is routed for other methods (``allowed``), else
        ``fallback``."""
        handler = self._exact.get((method, path))
        if handler is not None:
            return handler
        for each, pattern, handler, _, offered in self._templated:
            if each == method and pattern.fullmatch(path) is not None:
                if offered is not None and not offered(path):
                    return self._unrouted  # a path its handler refuses (a Gemini method it does not interpret)
                return handler
        if self.passthrough is not None:
            return self._unrouted
        return self.method_not_allowed if self.allowed(path) else self.fallback

    async def unrouted(self, request: web.BaseRequest) -> web.StreamResponse:
        """A request no route serves: the passthrough's answer when the policy forwards it, else the 405 of
        a path routed for other methods, else ``fallback``'s."""
        assert self.passthrough is not None  # only handed out with one (``handler``)
        answer = await self.passthrough(request)
        if answer is not None:
            return answer
        refusing = self._refusing(request.method, request.path)
        if refusing is not None:  # not forwarded: the route's own answer, as without a passthrough
            too_large = announced_too_large(request) if "Expect" in request.headers else None
            return await self.refuse(request, too_large, close=True) if too_large else await refusing(request)
        return await self.method_not_allowed(request) if self.allowed(request.path) else await self.fallback(request)

    def _refusing(self, method: str, path: str) -> Handler | None:
        """What answers ``method`` and ``path`` for the template that matches them but does not serve the
        path (``serves``): its ``unserved`` handler, else its own; None when there is no such template."""
        for each, pattern, handler, template, offered in self._templated:
            if each == method and offered is not None and pattern.fullmatch(path) is not None:
                return self._unserved.get(template, handler)
        return None

    def allowed(self, path: str) -> list[str]:
        """The methods ``path`` is routed for (none: the path is not served), in the table's order."""
        methods = list(self._exact_methods.get(path, ()))
        for each, pattern, _, template, _ in self._templated:
            if each not in methods and pattern.fullmatch(path) is not None:
                serves = self._serves.get(template)
                if serves is None or serves(path):
                    methods.append(each)
        return methods

    async def method_not_allowed(self, request: web.BaseRequest) -> web.StreamResponse:
        """The 405 of a method the path is not routed for, with ``Allow`` (RFC 9110 15.5.6), in the dialect
        the path suggests (``refuse``): the SDKs raise their status error with the message naming what to send."""
        return await self.refuse(request, not_allowed(request, self.allowed(request.path)))

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        expects = "Expect" in request.headers
        handler = self.handler(request.method, request.path)
        if expects and handler is not self._unrouted:  # a passthrough has a limit of its own
            too_large = announced_too_large(request)
            if too_large is not None:
                return await self.refuse(request, too_large, close=True)
        problem = target_problem(request.raw_path)
        if problem is not None or isinstance(request, (UnservedVersionRequest, UnframedRequest)):
            return _refused(request, problem)
        conn = request.protocol
        if not isinstance(conn, Connection):  # pragma: no cover - every connection is one (``Listener.start``)
            return await handler(request)
        conn.in_request = True
        conn.handler = current_task(conn.listener.loop)  # the loop named: no ``getpid`` system call
        try:
            response = await handler(request)
        finally:
            conn.in_request = False
            conn.handler = None
        if conn.listener.draining or (expects and awaits_continue(request)):
            response.force_close()  # an answer without the ``100``: the client may never send the body
        if not response.prepared:  # a proxied answer was begun by its handler (``handler.proxy``)
            response = await begin(request, response)
        return response

    def templates(self, method: str) -> list[str]:
        """Every path template ``method`` is routed on (``{name}`` for a templated segment)."""
        exact = [path for (each, path) in self._exact if each == method]
        return exact + [template for each, _, _, template, _ in self._templated if each == method]


async def begin(request: web.BaseRequest, response: web.StreamResponse) -> web.StreamResponse:
    """Begin ``response`` (write its head) unless begun: ``Connection: close`` while the listener drains;
    a header value with a line break (it would split the head) refused: a 500 in the dialect the path
    suggests is begun instead, and returned. ``Routes`` calls it for every answer once its handler
    returns; ``handler.proxy`` before the answer's end is written, ahead of its bookkeeping."""
    conn = request.protocol
    if isinstance(conn, Connection) and conn.listener.draining:
        response.force_close()
    if response.prepared:
        return response
    try:
        await response.prepare(request)  # here, not after the handler, so that a bad header is answered
    except ValueError as exc:
        log.warning("response_header_refused", error=str(exc), path=request.path)
        failure = RequestFailed(500, "internal error in llm-sidecar", code="internal_error")
        response = error_response(dialect_of_path(request.path, request.headers), failure)
        await response.prepare(request)
    return response


def not_allowed(request: web.BaseRequest, allowed: Sequence[str]) -> RequestFailed:
    """The 405 of ``request``, whose path is served for the ``allowed`` methods only (``Allow`` lists them;
    ``method_not_allowed``; answered by a ``Refuse`` in the dialect the path suggests)."""
    methods = ", ".join(allowed)
    message = f"method {request.method} is not allowed on {request.path}: it is served for {methods}"
    return RequestFailed(405, message, code="method_not_allowed", headers={"Allow": methods})


def _refused(request: web.BaseRequest, problem: str | None) -> web.Response:
    """The answer to a request the checks refuse, in the dialect its path suggests: 400 for its target's
    ``problem``, else 505 for its HTTP version (an ``UnservedVersionRequest``'s); the connection closes."""
    if problem is None and isinstance(request, UnframedRequest):
        problem = "Transfer-Encoding without chunked as its last coding"
    status, reason, message = 400, problem, problem
    if problem is None and isinstance(request, UnservedVersionRequest):
        asked = request.asked
        status, reason, message = (
            505,
            f"HTTP version {asked.major}.{asked.minor}",
            "only HTTP/1.1 and HTTP/1.0 are served",
        )
    log.debug("bad_request", reason=reason, status=status)
    failure = RequestFailed(status, message or "", code="invalid_request")
    refusal = error_response(dialect_of_path(request.path, request.headers), failure)
    refusal.force_close()
    return refusal


def announced_too_large(request: web.BaseRequest) -> RequestFailed | None:
    """``Expect: 100-continue`` with an announced body over the limit: the 413 to send at once (the body
    never sent; its connection closes), else None. ``100 Continue`` itself waits for the handler to read
    the body (``request_kinds.Request.read``)."""
    if not awaits_continue(request):
        return None
    length = request.content_length
    if length is not None and length > request.client_max_size:
        message = f"request body exceeds the sidecar's limit of {request.client_max_size} bytes"
        return RequestFailed(413, message, code="body_too_large")
    return None
