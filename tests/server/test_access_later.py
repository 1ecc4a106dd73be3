"""Access lines built after their request's end, while a later upstream call waits (``AccessLog.write_pending``):
none lost, none doubled, each with its own request's facts, and a lone request's written with no one
reading the log."""

from __future__ import annotations

import asyncio
import time

import orjson

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import openai_client
from ..telemetry.helpers import samples
from ..waiting import until

MESSAGES = [{"role": "user", "content": "hi"}]


POLICY = """version: 1
providers:
{provider}models:
  m: {{provider: p, model: up, price: {{input_per_mtok: 1, output_per_mtok: 2}}}}
routes:
  - {{name: rest, target: m}}
"""


def chain_policy(url: str) -> str:
    """One priced model behind one route, its provider the fake at ``url`` speaking OpenAI."""
    return POLICY.format(provider=provider_block("p", url, "openai"))


async def test_each_request_of_a_sequence_gets_its_own_line_once(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Six chat completions one after the other through openai-python (each line is built while the next
    call waits for its provider): six access lines, one per request id the answers carried, each with its
    own ``x-sidecar-cost`` as ``cost_usd``."""
    running = await sidecar(chain_policy(await fake("f")), traced=False)
    answered: list[tuple[str, float]] = []
    async with openai_client(running) as client:
        for _ in range(6):
            raw = await client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
            answered.append((raw.headers["x-sidecar-request-id"], float(raw.headers["x-sidecar-cost"])))
    lines = running.access_lines()
    assert sorted((line["request_id"], line["cost_usd"]) for line in lines) == sorted(answered)
    assert all(line["status"] == 200 and line["outcome"] == "ok" for line in lines)


async def test_a_lone_requests_line_is_written_with_no_one_reading_the_log(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """One request, and no other call after it to build its line while waiting: the line still reaches
    the log's stream on its own (``LINE_WAIT_S``, then the buffer's interval), the log never flushed by
    the test."""
    running = await sidecar(chain_policy(await fake("f")), traced=False)
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    request_id = raw.headers["x-sidecar-request-id"]

    def written() -> list[dict[str, object]]:
        lines = [orjson.loads(text) for text in running.logs.getvalue().splitlines() if b'"event":"access"' in text]
        return [line for line in lines if line["request_id"] == request_id]

    assert len(await until(written, timeout_s=5)) == 1


async def test_the_metrics_read_at_once_count_the_request(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Read in-process the moment openai-python has its answer (its bookkeeping may still be waiting for an
    upstream call): the request is counted and none is in flight."""
    running = await sidecar(chain_policy(await fake("f")), traced=False)
    async with openai_client(running) as client:
        await client.chat.completions.create(model="m", messages=MESSAGES)
        seen = samples(running.state.telemetry)
    counted = frozenset({("route", "rest"), ("served_model", "m"), ("outcome", "ok"), ("status_class", "2xx")})
    assert seen[("llm_sidecar_requests_total", counted)] == 1
    assert seen[("llm_sidecar_requests_in_flight", frozenset())] == 0


class HoldingClient(asyncio.Protocol):
    """A raw client that, the moment the answer's first bytes arrive, notes the time and holds the event
    loop for ``HOLD_S`` (nothing of the sidecar runs meanwhile: its timers wait too)."""

    def __init__(self) -> None:
        self.received = b""
        self.answered_s: float | None = None
        self.done = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if self.answered_s is None:
            self.answered_s = time.perf_counter()
            time.sleep(HOLD_S)  # the loop held (the quantity measured)
        self.received += data
        if self.received.endswith(b"}") and not self.done.done():
            self.done.set_result(None)


HOLD_S = 1.0


async def test_a_requests_duration_and_latency_end_at_the_hand_off_not_at_its_bookkeeping(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The client holds the loop for 1 s the moment its answer arrives, so the bookkeeping left for later runs
    after that: the request's duration and ``latency_ms`` still end when the answer was handed over (within
    the time the client saw it take), not a second later."""
    running = await sidecar(chain_policy(await fake("f")), traced=False)
    body = orjson.dumps({"model": "m", "messages": MESSAGES})
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    port = int(running.url.rsplit(":", 1)[1])
    transport, client = await asyncio.get_running_loop().create_connection(HoldingClient, "127.0.0.1", port)
    started = time.perf_counter()
    transport.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await asyncio.wait_for(client.done, 30)
    transport.close()
    assert client.answered_s is not None and client.received.startswith(b"HTTP/1.1 200")
    took_s = client.answered_s - started
    seen = samples(running.state.telemetry)
    [line] = running.access_lines()
    timed = frozenset({("route", "rest"), ("outcome", "ok")})
    assert 0 < seen[("llm_sidecar_request_duration_seconds_sum", timed)] < took_s
    assert 0 < line["latency_ms"] < took_s * 1000
