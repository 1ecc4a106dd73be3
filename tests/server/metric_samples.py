"""A sidecar's /metrics as the test reads it: its samples (``scraped``), each sample name's values summed
over its labels (``metric_samples``); the access lines sampled out by route (``sampled_out``)."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from ..conftest import RunningSidecar


async def scraped(running: RunningSidecar) -> list[Sample]:
    """Every sample of the sidecar's ``/metrics``, parsed by prometheus_client's parser."""
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as response:
        text = await response.text()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


async def metric_samples(running: RunningSidecar) -> dict[str, float]:
    samples: dict[str, float] = {}
    for sample in await scraped(running):
        samples[sample.name] = samples.get(sample.name, 0) + sample.value
    return samples


async def sampled_out(running: RunningSidecar) -> dict[str, float]:
    """``llm_sidecar_access_lines_sampled_out_total`` by route, from ``/metrics``."""
    samples = await scraped(running)
    return {s.labels["route"]: s.value for s in samples if s.name == "llm_sidecar_access_lines_sampled_out_total"}
