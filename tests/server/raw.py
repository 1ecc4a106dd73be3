"""Raw HTTP/1.1 over a socket for the listener tests: read one response as the bytes came; close a
connection and wait until it is (one left closing when the test's event loop ends is a ResourceWarning).

The waits default to 30 s: the server under test runs in the test's own event loop, which the suite's
other workers on a loaded machine can starve for seconds; a test of a timeout passes its own."""

from __future__ import annotations

import asyncio
import contextlib

WAIT_S = 30.0


async def close(writer: asyncio.StreamWriter) -> None:
    """Close the connection and wait until the socket is (a peer's reset is no error here)."""
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def read_response(reader: asyncio.StreamReader, timeout: float = WAIT_S) -> tuple[int, dict[str, str], bytes]:
    """One response: status, headers (lower-case names), body (Content-Length or chunked, decoded;
    until EOF when neither)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int((await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)).strip(), 16)
            chunk = await asyncio.wait_for(reader.readexactly(size + 2), timeout)
            if not size:
                break
            body += chunk[:-2]
        return status, headers, body
    if "content-length" in headers:
        return status, headers, await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), timeout)
    return status, headers, await asyncio.wait_for(reader.read(), timeout)
