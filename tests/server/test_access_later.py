"""Access lines built after their request's end, while a later upstream call waits (``AccessLog.write_pending``):
none lost, none doubled, each with its own request's facts, and a lone request's written with no one
reading the log."""

from __future__ import annotations

import orjson

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import openai_client
from ..waiting import until

MESSAGES = [{"role": "user", "content": "hi"}]


def chain_policy(url: str) -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("p", url, "openai")
        + "models:\n  m: {provider: p, model: up, price: {input_per_mtok: 1, output_per_mtok: 2}}\n"
        + "routes:\n  - {name: rest, target: m}\n"
    )


async def test_each_request_of_a_sequence_gets_its_own_line_once(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Six chat completions one after the other through openai-python (each line is built while the next
    call waits for its provider): six access lines, one per request id the answers carried, each with its
    own ``x-sidecar-cost`` as ``cost_usd``."""
    running = await sidecar(chain_policy(await fake("f")))
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
    running = await sidecar(chain_policy(await fake("f")))
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    request_id = raw.headers["x-sidecar-request-id"]

    def written() -> list[dict[str, object]]:
        lines = [orjson.loads(text) for text in running.logs.getvalue().splitlines() if b'"event":"access"' in text]
        return [line for line in lines if line["request_id"] == request_id]

    assert len(await until(written, timeout_s=5)) == 1
