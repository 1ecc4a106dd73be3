"""``ScriptedResolver``: a name resolver the test controls (given to the sidecar as its ``resolver_class``):
some names slow, some failing, the others on 127.0.0.1; it counts the lookups of each name."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter

from aiohttp.abc import AbstractResolver, ResolveResult


class ScriptedResolver(AbstractResolver):
    """Names in ``slow`` answer after ``delay_s``; names in ``failing`` fail as a name that does not exist
    (glibc's ``EAI_NONAME``); every other name resolves to 127.0.0.1. ``lookups``: the lookups per name."""

    def __init__(self, *, slow: set[str] | None = None, failing: set[str] | None = None, delay_s: float = 30.0):
        self.slow = slow or set()
        self.failing = failing or set()
        self.delay_s = delay_s
        self.lookups: Counter[str] = Counter()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups[host] += 1
        if host in self.slow:
            await asyncio.sleep(self.delay_s)
        if host in self.failing:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
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
