"""Seconds from an upstream call to its connect timeout when the name lookup is slow and the TLS handshake
then stalls: one ``connect_s`` for both, or one each.

    python bench/connect_budget.py [--calls 5] [--lookup-s 0.9] [--connect-s 1.0]

Each call is made on a fresh ``UpstreamClient`` (no cached answer, no pooled connection) whose resolver
answers after ``--lookup-s`` seconds, to a loopback listener that accepts and never speaks (a TLS
handshake to it never ends), with ``connect_s`` of ``--connect-s``. Prints the seconds each call took to
raise ``aiohttp.ConnectionTimeoutError`` (the sidecar's ``timeout_connect``). Run it once per tree, with
``PYTHONPATH`` naming that tree's ``sidecar`` package.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from sidecar.policy.compiled import Provider
from sidecar.policy.resilience_spec import TimeoutsSpec
from sidecar.policy.spec import ProviderKind
from sidecar.settings import Settings
from sidecar.upstream import EnvProxies, UpstreamClient


class SlowResolver(AbstractResolver):
    """Every name on 127.0.0.1, after ``delay_s``."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        await asyncio.sleep(self.delay_s)
        address: ResolveResult = {
            "hostname": host,
            "host": "127.0.0.1",
            "port": port,
            "family": socket.AF_INET,
            "proto": 0,
            "flags": socket.AI_NUMERICHOST,
        }
        return [address]

    async def close(self) -> None:
        return None


async def timed_calls(calls: int, lookup_s: float, connect_s: float) -> list[float]:
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    seconds = []
    for call in range(calls):
        client = UpstreamClient(Settings(), EnvProxies({}), lambda: SlowResolver(lookup_s))
        client.open()
        base = f"https://slow{call}.test:{port}/v1"
        provider = Provider("p", ProviderKind.OPENAI, base, None, (), TimeoutsSpec(), None, None)
        started = time.monotonic()
        try:
            await client.post(provider, base + "/chat", {}, b"{}", TimeoutsSpec(connect_s=connect_s))
        except aiohttp.ConnectionTimeoutError:
            seconds.append(time.monotonic() - started)
        finally:
            await client.close()
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--lookup-s", type=float, default=0.9)
    parser.add_argument("--connect-s", type=float, default=1.0)
    args = parser.parse_args()
    seconds = asyncio.run(timed_calls(args.calls, args.lookup_s, args.connect_s))
    print(", ".join(f"{s:.3f}" for s in seconds))


if __name__ == "__main__":
    main()
