"""What aiohttp's ``trust_env=True`` costs per call: why the sidecar reads the proxy variables itself.

With ``trust_env=True`` aiohttp looks up ~/.netrc and the proxy environment on every request, each in a
worker thread. This posts a small body to a loopback server through two sessions that differ only in
``trust_env``, alternating, and prints the CPU per call of sequential calls and the calls per second of
3,000 concurrent ones.

    python bench/trust_env.py [--calls 3000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
import uvloop


async def serve() -> tuple[asyncio.Server, int]:
    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(2)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def main(calls: int, rounds: int) -> None:
    server, port = await serve()
    url = f"http://127.0.0.1:{port}/"
    print(
        f"Command: `python bench/trust_env.py --calls {calls} --rounds {rounds}` ({time.strftime('%Y-%m-%d %H:%M')})\n"
    )
    print("| trust_env | CPU per sequential call | calls/s, 3,000 at once |")
    print("|---|---|---|")
    for _ in range(rounds):
        for trust in (False, True):
            async with aiohttp.ClientSession(trust_env=trust) as session:

                async def one(session: aiohttp.ClientSession = session) -> None:
                    async with session.post(url, data=b"{}") as response:
                        await response.read()

                for _ in range(200):
                    await one()
                started = time.process_time()
                for _ in range(calls):
                    await one()
                cpu = (time.process_time() - started) / calls * 1e6
                started = time.perf_counter()
                await asyncio.gather(*[one() for _ in range(calls)])
                rate = calls / (time.perf_counter() - started)
                print(f"| {trust} | {cpu:.0f} us | {rate:,.0f} |")
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    uvloop.run(main(args.calls, args.rounds))
