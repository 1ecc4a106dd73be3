"""Instructions per upstream call, piece by piece: the minimal proxy's aiohttp call, the sidecar's session
and arguments, ``UpstreamClient`` around them, and the attempt's first-byte deadline around that.

    python bench/upstream_call_instructions.py [--few 200] [--many 1200] [--baseline REF]

nginx serves the fixed 400-byte chat answer (as in upstream_call.py); this file runs itself again under
``valgrind --tool=cachegrind`` (on uvloop, one kept-alive connection) twice per part, making ``--few`` and
then ``--many`` sequential calls; the difference of the totals over the difference of the counts is one
call's cost. The parts, each the one before plus one thing:

- ``minimal``: bench/minimal_proxy.py's call (its session, ``post`` with one header, ``async with``,
  ``read()``);
- ``session``: the same call on the sidecar's session (``UpstreamClient.open``'s: no cookie jar, no
  default timeout, its request class, no ``User-Agent``);
- ``headers``: the sidecar's three headers (type, key, accepted encodings) instead of one;
- ``timeout``: its ``timeout`` per call (``connect``, ``sock_read``);
- ``arguments``: its other arguments to ``post`` (``proxy``, ``proxy_headers``, ``ssl``,
  ``allow_redirects``), all of them as ``UpstreamClient.post`` passes them;
- ``client``: ``UpstreamClient.post`` + ``read`` + ``close`` instead (its route, its head check, its
  body read against the size cap, its timers);
- ``deadline``: the attempt's first-byte ``Deadline`` around ``post`` (``server.attempt``);
- ``filters``: the attempt's header filters around the call: the app's headers (the benchmarks' request,
  as aiohttp's parser gives them) to the provider's, and the answer's to the app's (``upstream.headers``).

``--baseline REF``: the same with the ``sidecar`` package of git revision REF, in turn with this tree's.
Needs valgrind and `apt-get install nginx-light`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from header_instructions import BENCH_REQUEST, filters, parsed
from measuring import REQUEST, tools_present
from nginx_upstream import nginx_running
from parts_command import valgrind_script
from sidecar_under_test import checkout
from upstream_call import HEADERS

PARTS = ("minimal", "session", "headers", "timeout", "arguments", "client", "deadline", "filters")


async def calls(part: str, port: int, n: int) -> None:
    import aiohttp

    from sidecar.deadline import Deadline, DeadlineClock
    from sidecar.dialects import Dialect
    from sidecar.policy.compiled import Provider
    from sidecar.policy.resilience_spec import TimeoutsSpec
    from sidecar.policy.spec import ProviderKind
    from sidecar.settings import Settings
    from sidecar.upstream import EnvProxies, UpstreamClient

    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body = REQUEST.encode()
    minimal = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024))
    client = UpstreamClient(Settings(), EnvProxies({}))
    client.open()
    session = client._session
    assert session is not None
    provider = Provider(
        "nginx", ProviderKind.OPENAI, f"http://127.0.0.1:{port}/v1", None, (), TimeoutsSpec(), None, None
    )
    timeouts = TimeoutsSpec()
    per_call = aiohttp.ClientTimeout(total=None, connect=timeouts.connect_s, sock_read=timeouts.idle_s)
    loop = asyncio.get_running_loop()
    clock = DeadlineClock()  # one timer for every deadline of the run, as `Attempt` keeps one

    async def minimal_call() -> None:
        async with minimal.post(url, data=body, headers={"content-type": "application/json"}) as response:
            await response.read()

    async def session_call() -> None:
        async with session.post(url, data=body, headers={"content-type": "application/json"}) as response:
            await response.read()

    async def headers_call() -> None:
        async with session.post(url, data=body, headers=dict(HEADERS)) as response:
            await response.read()

    async def timeout_call() -> None:
        async with session.post(url, data=body, headers=dict(HEADERS), timeout=per_call) as response:
            await response.read()

    async def arguments_call() -> None:
        async with session.post(
            url,
            data=body,
            headers=dict(HEADERS),
            proxy=None,
            proxy_headers=None,
            ssl=True,
            timeout=per_call,
            allow_redirects=False,
        ) as response:
            await response.read()

    async def client_call() -> None:
        response = await client.post(provider, url, dict(HEADERS), body, timeouts)
        try:
            await response.read()
        finally:
            response.close()

    async def deadline_call() -> None:
        deadline = Deadline(loop, loop.time() + timeouts.first_byte_s, clock)
        try:
            response = await client.post(provider, url, dict(HEADERS), body, timeouts)
        finally:
            deadline.lift()
        try:
            await response.read()
        finally:
            response.close()

    send, relay = filters()
    app_headers = parsed(BENCH_REQUEST, answer=False)
    openai = provider.wire_dialect(Dialect.OPENAI)

    async def filters_call() -> None:
        headers = send(app_headers, provider, openai, openai, "sk-bench")
        headers["accept-encoding"] = "gzip, deflate"
        deadline = Deadline(loop, loop.time() + timeouts.first_byte_s, clock)
        try:
            response = await client.post(provider, url, headers, body, timeouts)
        finally:
            deadline.lift()
        try:
            relay(response.headers.items())
            await response.read()
        finally:
            response.close()

    made = (
        minimal_call,
        session_call,
        headers_call,
        timeout_call,
        arguments_call,
        client_call,
        deadline_call,
        filters_call,
    )
    call: Callable[[], Awaitable[None]] = dict(zip(PARTS, made, strict=True))[part]
    for _ in range(n):
        await call()
    await minimal.close()
    await client.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=200)
    parser.add_argument("--many", type=int, default=1200)
    parser.add_argument("--baseline", help="also measure this git revision's package")
    parser.add_argument("--run", nargs=3, help=argparse.SUPPRESS)  # part, port, calls
    args = parser.parse_args()
    if args.run is not None:
        import uvloop

        uvloop.run(calls(args.run[0], int(args.run[1]), int(args.run[2])))
        return 0
    if not tools_present("nginx", "valgrind"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-call-instructions-"))
    codes: list[tuple[str, Path | None]] = [("this checkout", None)]
    if args.baseline:
        codes.append((args.baseline, checkout(args.baseline, workdir)))
    with nginx_running(workdir) as port:
        command = f"python bench/upstream_call_instructions.py --few {args.few} --many {args.many}"
        baseline = f" --baseline {args.baseline}" if args.baseline else ""
        print(f"Command: `{command}{baseline}` ({time.strftime('%H:%M')})\n")
        print("| code | " + " | ".join(PARTS) + " | call - minimal |\n|---|" + "---|" * (len(PARTS) + 1), flush=True)
        for label, code in codes:
            per = [
                (
                    valgrind_script(__file__, ["--run", part, str(port), str(args.many)], code)
                    - valgrind_script(__file__, ["--run", part, str(port), str(args.few)], code)
                )
                / (args.many - args.few)
                for part in PARTS
            ]
            cells = [f"{per[0]:,.0f}"] + [f"{b - a:+,.0f}" for a, b in itertools.pairwise(per)]
            print(f"| {label} | " + " | ".join(cells) + f" | {per[-1] - per[0]:+,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
