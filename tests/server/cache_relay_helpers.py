"""A TCP relay in front of a real ``redis-server`` that drops its connections as an idle-timeout middlebox
does (a NAT, a load balancer, a proxy between pods and Redis): ``forget()`` closes the Redis side of every
connection but tells the client nothing; the client learns only when it sends again, by a reset.

    relay = await RedisRelay.start(redis_server.port)
    relay.url          # redis://127.0.0.1:<relay port>/0
    relay.forget()     # every connection through it is dead from now on, unknown to its clients
    await relay.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct


class _Pair:
    """One client's connection and its connection to Redis, with the task carrying Redis's replies back."""

    def __init__(self, client: asyncio.StreamWriter, redis: asyncio.StreamWriter) -> None:
        self.client = client
        self.redis = redis
        self.replies: asyncio.Task[None] | None = None
        self.forgotten = False


class RedisRelay:
    """See the module docstring."""

    def __init__(self, redis_port: int) -> None:
        self._redis_port = redis_port
        self._server: asyncio.Server | None = None
        self._pairs: list[_Pair] = []
        self.port = 0

    @classmethod
    async def start(cls, redis_port: int) -> RedisRelay:
        relay = cls(redis_port)
        relay._server = await asyncio.start_server(relay._serve, "127.0.0.1", 0)
        relay.port = relay._server.sockets[0].getsockname()[1]
        return relay

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def forget(self) -> None:
        """Drop every connection's Redis side; its client is reset when it next sends."""
        for pair in self._pairs:
            pair.forgotten = True
            if pair.replies is not None:
                pair.replies.cancel()
            pair.redis.close()

    async def close(self) -> None:
        self.forget()
        for pair in self._pairs:
            pair.client.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        redis_reader, redis_writer = await asyncio.open_connection("127.0.0.1", self._redis_port)
        pair = _Pair(writer, redis_writer)
        self._pairs.append(pair)
        pair.replies = asyncio.create_task(_carry(redis_reader, writer))
        while data := await reader.read(65536):
            if pair.forgotten:  # the middlebox has no state for it: a reset
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            redis_writer.write(data)
        redis_writer.close()


async def _carry(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
