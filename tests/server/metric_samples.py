"""A sidecar's /metrics as the test reads it: each sample name's values summed over its labels
(``metric_samples``); the access lines sampled out by route (``sampled_out``)."""

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


async def sampled_out(running: RunningSidecar) -> dict[str, float]:
    """``llm_sidecar_access_lines_sampled_out_total`` by route, from ``/metrics``."""
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as response:
        text = await response.text()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "llm_sidecar_access_lines_sampled_out_total":
                counts[sample.labels["route"]] = sample.value
    return counts
