"""Instructions of the header filters alone, per call: the app's headers to the provider (what
``server.attempt`` sends upstream) and the provider's headers to the app (what it relays).

    python bench/header_instructions.py [--few 1000] [--many 5000] [--baseline REF]

Runs this file under ``valgrind --tool=cachegrind`` twice per case and direction, making ``--few`` and
then ``--many`` calls; the difference of the totals over the difference of the counts is one call's
cost. The headers are parsed once, by aiohttp's own parser (so each name is the object aiohttp hands
the sidecar for it on every request), into the ``CIMultiDictProxy`` the server and the client read:

- ``bench``: the benchmarks' request (wrk: ``Host``, ``Content-Length``, ``Content-Type``,
  ``Authorization``) and nginx's answer (its eight headers);
- ``sdk``: an OpenAI Python SDK's request (17 headers, ``X-Stainless-*`` among them) and an
  OpenAI-like answer (22 headers: rate limits, request id, Cloudflare's, two ``Set-Cookie``);
- ``new-names``: every call ten header names never seen before (an app or provider sending random
  names: the filters' slow path), made before the calls.

``--baseline REF``: the same with the ``sidecar`` package of git revision REF (before ``UpstreamHeaders``
and ``RelayHeaders``: the functions ``upstream_headers`` and ``relay_headers``). Needs valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import string
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from measuring import tools_present
from parts_command import valgrind_script
from sidecar_under_test import checkout

CASES = ("bench", "sdk", "new-names")
DIRECTIONS = ("upstream", "relay")

BENCH_REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 330\r\n"
    b"Content-Type: application/json\r\nAuthorization: Bearer sk-bench\r\n\r\n"
)
NGINX_ANSWER = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 05 Dec 2026 10:00:00 GMT\r\n"
    b"Content-Type: application/json\r\nContent-Length: 400\r\nLast-Modified: Sat, 05 Dec 2026 09:00:00 GMT\r\n"
    b'Connection: keep-alive\r\nETag: "6930a0f0-190"\r\nAccept-Ranges: bytes\r\n\r\n'
)
SDK_REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: sidecar:8080\r\nAccept-Encoding: gzip, deflate\r\n"
    b"Connection: keep-alive\r\nAccept: application/json\r\nContent-Type: application/json\r\n"
    b"User-Agent: AsyncOpenAI/Python 1.99.9\r\nX-Stainless-Lang: python\r\n"
    b"X-Stainless-Package-Version: 1.99.9\r\nX-Stainless-OS: Linux\r\nX-Stainless-Arch: x64\r\n"
    b"X-Stainless-Runtime: CPython\r\nX-Stainless-Runtime-Version: 3.11.9\r\n"
    b"Authorization: Bearer sk-app\r\nX-Stainless-Async: async:asyncio\r\nx-stainless-retry-count: 0\r\n"
    b"x-stainless-read-timeout: 600\r\nContent-Length: 330\r\n\r\n"
)
PROVIDER_ANSWER = (
    b"HTTP/1.1 200 OK\r\nDate: Sat, 05 Dec 2026 10:00:00 GMT\r\nContent-Type: application/json\r\n"
    b"Content-Length: 400\r\nConnection: keep-alive\r\naccess-control-expose-headers: X-Request-ID\r\n"
    b"openai-organization: org-bench\r\nopenai-processing-ms: 412\r\nopenai-project: proj_bench\r\n"
    b"openai-version: 2020-10-01\r\nx-envoy-upstream-service-time: 415\r\nx-ratelimit-limit-requests: 10000\r\n"
    b"x-ratelimit-limit-tokens: 2000000\r\nx-ratelimit-remaining-requests: 9999\r\n"
    b"x-ratelimit-remaining-tokens: 1999970\r\nx-ratelimit-reset-requests: 6ms\r\n"
    b"x-ratelimit-reset-tokens: 0s\r\nx-request-id: req_0123456789abcdef\r\n"
    b"strict-transport-security: max-age=31536000; includeSubDomains; preload\r\ncf-cache-status: DYNAMIC\r\n"
    b"Set-Cookie: __cf_bm=abc; path=/; HttpOnly\r\nSet-Cookie: _cfuvid=def; path=/; HttpOnly\r\n"
    b"X-Content-Type-Options: nosniff\r\nServer: cloudflare\r\nCF-RAY: 8f0000000000abcd-FRA\r\n"
    b'alt-svc: h3=":443"; ma=86400\r\n\r\n'
)
NEW_NAMES = 10


class _Protocol:
    """What aiohttp's parser asks of its protocol for a message with a body (nothing here reads it)."""

    transport = None
    _reading_paused = False

    def pause_reading(self, **_: Any) -> None:
        pass

    def resume_reading(self, **_: Any) -> None:
        pass


def parsed(raw: bytes, *, answer: bool) -> Any:
    """``raw``'s headers as aiohttp's C parser gives them (the sidecar's listener and client use it)."""
    from aiohttp._http_parser import HttpRequestParser, HttpResponseParser

    loop = asyncio.new_event_loop()
    parser = (HttpResponseParser if answer else HttpRequestParser)(_Protocol(), loop, 2**16)
    messages, _, _ = parser.feed_data(raw)
    loop.close()
    return messages[0][0].headers


def new_names(count: int) -> list[Any]:
    """``count`` header sets of ``NEW_NAMES`` names each, none seen before (a fixed seed)."""
    from multidict import CIMultiDict, CIMultiDictProxy, istr

    rng = random.Random(0)
    letters = string.ascii_lowercase
    return [
        CIMultiDictProxy(CIMultiDict((istr("x-" + "".join(rng.choices(letters, k=14))), "v") for _ in range(NEW_NAMES)))
        for _ in range(count)
    ]


def filters() -> tuple[Callable[..., dict[str, str]], Callable[[Iterable[tuple[str, str]]], dict[str, str]]]:
    """The package's two filters, as ``server.attempt`` calls them (its relay drop set)."""
    from sidecar import upstream

    drop = upstream.RESPONSE_DROP | {"content-type"}  # ANSWER_DROP since wave 24
    if hasattr(upstream, "UpstreamHeaders"):
        return upstream.UpstreamHeaders(), upstream.RelayHeaders(drop)
    return upstream.upstream_headers, lambda items: upstream.relay_headers(items, drop)  # before wave 24


def run(case: str, direction: str, calls: int, most: int) -> None:
    from sidecar.dialects import Dialect
    from sidecar.policy.compiled import Provider
    from sidecar.policy.resilience_spec import TimeoutsSpec
    from sidecar.policy.spec import ProviderKind

    provider = Provider("p", ProviderKind.OPENAI, "http://127.0.0.1:1/v1", None, (), TimeoutsSpec(), None, None)
    send, relay = filters()
    messages: list[Mapping[str, str]]
    if case == "new-names":
        messages = new_names(most)  # as many in every run: only the calls differ
    else:
        raw = {"bench": (BENCH_REQUEST, NGINX_ANSWER), "sdk": (SDK_REQUEST, PROVIDER_ANSWER)}[case]
        messages = [parsed(raw[direction == "relay"], answer=direction == "relay")] * most
    openai = Dialect.OPENAI
    if direction == "upstream":
        for headers in messages[:calls]:
            send(headers, provider, openai, openai, "sk-provider")
    else:
        for headers in messages[:calls]:
            relay(headers.items())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=1000)
    parser.add_argument("--many", type=int, default=5000)
    parser.add_argument("--baseline", help="also measure this git revision's package")
    parser.add_argument("--run", nargs=4, help=argparse.SUPPRESS)  # case, direction, calls, most calls
    args = parser.parse_args()
    if args.run is not None:
        run(args.run[0], args.run[1], int(args.run[2]), int(args.run[3]))
        return 0
    if not tools_present("valgrind"):
        return 2
    codes: list[tuple[str, Path | None]] = [("this checkout", None)]
    if args.baseline:
        codes.append((args.baseline, checkout(args.baseline, Path(tempfile.mkdtemp(prefix="header-instructions-")))))
    command = f"python bench/header_instructions.py --few {args.few} --many {args.many}"
    print(f"Command: `{command}{f' --baseline {args.baseline}' if args.baseline else ''}` ({time.strftime('%H:%M')})\n")
    columns = [f"{case} {direction}" for case in CASES for direction in DIRECTIONS]
    print("| code | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns), flush=True)
    for label, code in codes:
        cells = []
        for case in CASES:
            for direction in DIRECTIONS:
                totals = [
                    valgrind_script(__file__, ["--run", case, direction, str(n), str(args.many)], code)
                    for n in (args.few, args.many)
                ]
                cells.append(f"{(totals[1] - totals[0]) / (args.many - args.few):,.0f}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
