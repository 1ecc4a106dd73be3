"""A sidecar's /metrics as the test reads it: each sample name's values summed over its labels."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import RunningSidecar


async def metric_samples(running: RunningSidecar) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as response:
        text = await response.text()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name
            samples[key] = samples.get(key, 0) + sample.value
    return samples
