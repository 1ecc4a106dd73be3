"""The /_fake/ control endpoints, request recording and timing settings."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import openai
import pytest

USER: Any = [{"role": "user", "content": "hello"}]


async def control(server: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, server.make_url(path), json=body) as response,
    ):
        return response.status, await response.json()


async def test_requests_record_all_headers_and_body(fake, openai_for, anthropic_for, gemini_for):
    """Every provider request is recorded with all its headers (credentials included) and its JSON body."""
    server = await fake()
    await openai_for(server).chat.completions.create(model="gpt-x", messages=USER)
    await anthropic_for(server).messages.create(model="claude-fake-1", max_tokens=5, messages=USER)
    await gemini_for(server).aio.models.generate_content(model="gemini-x", contents="hi")
    _, records = await control(server, "GET", "/_fake/requests")
    paths = [record["path"] for record in records]
    assert paths[:2] == ["/v1/chat/completions", "/v1/messages"]
    assert paths[2].endswith("/models/gemini-x:generateContent")
    assert records[0]["headers"]["authorization"] == "Bearer sk-test"
    assert records[0]["json"]["model"] == "gpt-x"
    assert records[1]["headers"]["authorization"] == "Bearer sk-ant-test"  # this SDK sends the key as a bearer token
    assert "anthropic-version" in records[1]["headers"]
    assert records[2]["headers"]["x-goog-api-key"] == "g-test"
    assert all(record["method"] == "POST" and record["time"] > 0 for record in records)
    _, only = await control(server, "GET", "/_fake/requests?path=/v1/messages")
    assert len(only) == 1


async def test_requests_log_is_bounded(fake, openai_for):
    """The request log keeps only the most recent ``max_records`` requests; stats count them all."""
    server = await fake(max_records=2)
    client = openai_for(server)
    for index in range(3):
        await client.chat.completions.create(model=f"m{index}", messages=USER)
    _, records = await control(server, "GET", "/_fake/requests")
    assert [record["json"]["model"] for record in records] == ["m1", "m2"]
    _, stats = await control(server, "GET", "/_fake/stats")
    assert stats["requests"] == 3


async def test_stats_and_reset(fake, openai_for):
    """Stats count requests by path and faults; reset clears them and the ``times`` counters."""
    server = await fake()
    client = openai_for(server)
    await client.chat.completions.create(model="m", messages=USER)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="m", messages=USER, extra_headers={"x-fake-fault": "500;times=1"})
    await client.embeddings.create(model="e", input="x")
    _, stats = await control(server, "GET", "/_fake/stats")
    assert stats == {
        "requests": 3,
        "by_path": {"/v1/chat/completions": 2, "/v1/embeddings": 1},
        "faults": 1,
        "in_flight": 0,
    }
    assert await control(server, "POST", "/_fake/reset") == (200, {"ok": True})
    _, stats = await control(server, "GET", "/_fake/stats")
    assert stats == {"requests": 0, "by_path": {}, "faults": 0, "in_flight": 0}
    with pytest.raises(openai.InternalServerError):  # the times=1 budget is fresh again
        await client.chat.completions.create(model="m", messages=USER, extra_headers={"x-fake-fault": "500;times=1"})


async def test_requests_in_flight_are_counted(fake, openai_for):
    """Three stalled calls at once: each record holds the count at its arrival (1, 2, 3), stats count
    them while they run and none once they are answered."""
    server = await fake()
    client = openai_for(server)
    stalled: Any = [{"role": "user", "content": "[fault:stall=2] hello"}]  # long enough for a loaded machine
    calls = []
    for _ in range(3):
        calls.append(asyncio.ensure_future(client.chat.completions.create(model="m", messages=stalled)))
        for _ in range(100):
            if (await control(server, "GET", "/_fake/stats"))[1]["requests"] == len(calls):
                break
            await asyncio.sleep(0.01)
    assert (await control(server, "GET", "/_fake/stats"))[1]["in_flight"] == 3
    await asyncio.gather(*calls)
    _, records = await control(server, "GET", "/_fake/requests")
    assert [record["in_flight"] for record in records] == [1, 2, 3]
    assert (await control(server, "GET", "/_fake/stats"))[1]["in_flight"] == 0


async def records_once_ended(server: Any, index: int) -> list[dict[str, Any]]:
    """The request log once its record ``index`` has ended (at most 4 s)."""
    for _ in range(200):
        _, records = await control(server, "GET", "/_fake/requests")
        if records[index]["ended"] is not None:
            break
        await asyncio.sleep(0.02)
    return records


async def test_records_say_when_the_answer_ended_and_whether_the_client_left(fake, openai_for):
    """A record's ``ended`` is set when its handler is done; ``client_gone`` is true for a caller that
    left during a stall (the fake stopped at once) and false for one that got its answer."""
    server = await fake()
    client = openai_for(server)
    await client.chat.completions.create(model="answered", messages=USER)
    stalled: Any = [{"role": "user", "content": "[fault:stall=30] hello"}]
    call = asyncio.ensure_future(client.chat.completions.create(model="left", messages=stalled))
    for _ in range(200):
        if (await control(server, "GET", "/_fake/stats"))[1]["requests"] == 2:
            break
        await asyncio.sleep(0.01)
    call.cancel()
    left_at = time.time()
    answered, left = await records_once_ended(server, 1)
    assert answered["ended"] >= answered["time"] and answered["client_gone"] is False
    assert left["client_gone"] is True and left["ended"] - left_at < 1.0


async def test_a_stream_the_client_closes_mid_way_is_recorded_as_client_gone(fake, openai_for):
    """A client that closes a stream during a pause after its first event: the record says
    ``client_gone`` and its handler ended well before the pause would have."""
    server = await fake()
    paused: Any = [{"role": "user", "content": "one two three [fault:stall-mid=1;for=30]"}]
    stream = await openai_for(server).chat.completions.create(model="m", messages=paused, stream=True)
    async for _ in stream:
        break
    await stream.close()
    left_at = time.time()
    [left] = await records_once_ended(server, 0)
    assert left["client_gone"] is True and left["ended"] - left_at < 1.0


async def test_config_takes_provider_down_and_up(fake, openai_for):
    """POST /_fake/config with a fault takes the server down; clearing the fault brings it back."""
    server = await fake()
    client = openai_for(server)
    status, config = await control(server, "POST", "/_fake/config", {"fault": "status=503"})
    assert status == 200
    assert config["fault_rate"] == 1.0
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="m", messages=USER)
    await control(server, "POST", "/_fake/config", {"fault": None})
    result = await client.chat.completions.create(model="m", messages=USER)
    assert result.choices[0].message.content == "hello"


async def test_config_rejects_bad_values(fake):
    """POST /_fake/config answers 400 for an unknown field, a bad type or a bad fault spec."""
    server = await fake()
    for body in ({"name": "x"}, {"latency_ms": "slow"}, {"fault": "nonsense"}, {"fault_rate": 2}, [1]):
        status, answer = await control(server, "POST", "/_fake/config", body)
        assert status == 400
        assert answer["error"]
    _, config = await control(server, "GET", "/_fake/config")
    assert config["fault"] is None


async def test_reset_restores_startup_config(fake):
    """POST /_fake/reset puts back the configuration the server started with."""
    server = await fake(latency_ms=1)
    await control(server, "POST", "/_fake/config", {"latency_ms": 50, "reply": "x"})
    await control(server, "POST", "/_fake/reset")
    _, config = await control(server, "GET", "/_fake/config")
    assert (config["latency_ms"], config["reply"]) == (1, None)


async def test_latency_and_pacing(fake, openai_for):
    """latency_ms delays the headers; tokens_per_s paces the stream's chunks."""
    server = await fake(latency_ms=100)
    client = openai_for(server)
    start = time.monotonic()
    await client.chat.completions.create(model="m", messages=USER)
    assert time.monotonic() - start >= 0.1
    await control(server, "POST", "/_fake/config", {"latency_ms": 0, "tokens_per_s": 50, "reply": "a b c d e f"})
    start = time.monotonic()
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    async for _chunk in stream:
        pass
    assert time.monotonic() - start >= 5 / 50  # five gaps of one token each at 50 tokens/s


async def test_client_disconnect_mid_stream(fake, openai_for):
    """A client leaving mid-stream ends the server's stream quietly; the server keeps serving."""
    server = await fake(tokens_per_s=100, reply="word " * 50)
    client = openai_for(server)
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    async for _chunk in stream:
        break
    await stream.close()
    await asyncio.sleep(0.05)
    await control(server, "POST", "/_fake/config", {"tokens_per_s": 0})
    result = await client.chat.completions.create(model="m", messages=USER)
    assert result.choices[0].message.content == "word " * 50


async def test_control_requests_are_not_recorded(fake):
    """Requests to /_fake/ are neither recorded nor faulted."""
    server = await fake(fault="reset", fault_rate=1.0)
    await control(server, "GET", "/_fake/stats")
    _, stats = await control(server, "GET", "/_fake/stats")
    assert stats["requests"] == 0
