"""The GenAI metrics' ``gen_ai_response_model``, which an upstream's answer names, stays a bounded set of
label values (telemetry/label_bound.py), whatever the upstream names."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from sidecar.telemetry.label_bound import MAX_CHARS, OTHER, RESPONSE_MODELS

from ..conftest import SidecarFactory
from ..sdk_clients import openai_client
from ..server.lying_answers import OPENAI_WHOLE, Liar, Lie


async def _response_models(url: str) -> set[str]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    return {
        sample.labels["gen_ai_response_model"]
        for family in text_string_to_metric_families(text)
        if family.name == "gen_ai_client_operation_duration_seconds"
        for sample in family.samples
    }


async def test_an_upstream_naming_a_new_model_in_every_answer_cannot_grow_the_metrics(
    aiohttp_server: Any, sidecar: SidecarFactory
) -> None:
    """An upstream whose every answer names another model (and one a name longer than MAX_CHARS): the
    first RESPONSE_MODELS names label the duration histogram as they are, the rest as ``other``;
    every request is answered."""
    liar = Liar()
    server = await aiohttp_server(liar.app())
    url = str(server.make_url("")).rstrip("/")
    running = await sidecar(
        "version: 1\n"
        f"providers:\n  up: {{kind: openai, base_url: '{url}/v1', api_key: {{env: KEY}}}}\n"
        "models:\n  m: {provider: up, model: m}\n"
        "default: {target: m}\n",
        env={"KEY": "sk-test"},
    )
    names = ["x" * (MAX_CHARS + 1)] + [f"model-{i}" for i in range(RESPONSE_MODELS + 20)]
    async with openai_client(running) as client:
        for name in names:
            liar.lie = Lie(body=orjson.dumps({**OPENAI_WHOLE, "model": name}))
            answer = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            assert answer.model == name
    labels = await _response_models(running.url)
    assert labels == {f"model-{i}" for i in range(RESPONSE_MODELS)} | {OTHER}
