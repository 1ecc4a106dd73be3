"""An OpenAI stream written by a raw upstream, read by openai-python: the chunks, the sidecar in front
of it, the text the SDK reads, the access line (the relay's stream tests)."""

from __future__ import annotations

from typing import Any

import orjson

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import openai_client
from ..upstream.raw import UpstreamFactory, paced

CHUNK = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def access_line(running: RunningSidecar) -> dict[str, Any]:
    return [line for line in running.log_lines() if line.get("event") == "access"][-1]


def data(delta: dict[str, Any], finish: str | None = None) -> bytes:
    """One ``chat.completion.chunk`` event of ``delta``."""
    chunk = {**CHUNK, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


FIRST = data({"role": "assistant", "content": "one "})
END = data({}, finish="stop") + b"data: [DONE]\n\n"


async def openai_sidecar(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, reads: list[bytes], defaults: str = ""
) -> RunningSidecar:
    """The sidecar in front of an OpenAI upstream writing ``reads`` one at a time (model ``m``);
    ``defaults``: the policy's ``defaults:`` block (YAML flow text), if any."""
    upstream = await raw_upstream(paced(reads))
    policy = (
        "version: 1\n" + (f"defaults: {defaults}\n" if defaults else "") + "providers:\n"
        f"  p: {{dialect: openai, base_url: '{upstream.base}/v1', api_key: {{env: KEY}}}}\n"
        "models:\n  m: {provider: p, model: up}\n"
    )
    return await sidecar(policy, env={"KEY": "sk-x"})


async def openai_text(running: RunningSidecar, model: str = "m") -> list[str]:
    """The text openai-python reads from a streamed chat (temperature 0), until it ends or raises."""
    got: list[str] = []
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], stream=True, temperature=0
        )
        async for chunk in stream:
            got += [c.delta.content or "" for c in chunk.choices]
    return got
