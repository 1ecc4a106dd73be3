"""Hot reload under ConfigMap swaps of a policy and its router file that come faster than a load: every
policy applied is one the ConfigMap held, never the policy of one swap with the router of another."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from sidecar.policy import load_policy
from sidecar.policy.watch import PolicyHolder, PolicyWatcher

from ..configmap import configmap_write
from .policies import LEARNED

BURSTS = 6
SWAPS_PER_BURST = 40  # 3 ms apart: faster than a load, so some land between its two reads


@pytest.mark.timeout(120)
async def test_a_swap_during_a_load_never_applies_a_policy_with_another_swaps_router(
    tmp_path: Path, router_files: tuple[bytes, bytes]
) -> None:
    """A thread swaps the ConfigMap between two (policy, router) pairs every few milliseconds while the
    watcher polls every millisecond, in bursts of 40 swaps, each ending on the pair that does not serve
    and followed by a pause until the watcher serves it: each applied version is one of the two pairs'
    (a swap between the read of policy.yaml and that of router.json applied a policy no ConfigMap
    held), and the watcher catches up after every burst. The pauses wait for the watcher, not for a
    time: on a loaded machine a load can outlast every gap between swaps for seconds."""
    other = LEARNED.replace("default: {target: gpt-4o}", "default: {target: claude}")
    pairs = [
        {"policy.yaml": LEARNED.encode(), "router.json": router_files[0]},
        {"policy.yaml": other.encode(), "router.json": router_files[1]},
    ]
    versions = []
    for i, files in enumerate(pairs):
        (tmp_path / f"pair{i}").mkdir()
        for name, data in files.items():
            (tmp_path / f"pair{i}" / name).write_bytes(data)
        versions.append(load_policy(tmp_path / f"pair{i}" / "policy.yaml").version)
    volume = tmp_path / "volume"
    volume.mkdir()
    configmap_write(volume, pairs[0], "0")
    holder = PolicyHolder(load_policy(volume / "policy.yaml"))
    applied: list[str] = []
    watcher = PolicyWatcher(
        str(volume / "policy.yaml"),
        holder,
        interval=0.001,
        on_reload=lambda ok, policy, errors: applied.append(policy.version if policy else f"rejected {errors}"),
    )
    behind: list[str] = []  # a burst the watcher did not catch up with

    def swap() -> None:
        n = 0
        for burst in range(BURSTS):
            for _ in range(SWAPS_PER_BURST):
                n += 1
                configmap_write(volume, pairs[n % 2], str(n))
                time.sleep(0.003)
            if versions[n % 2] == holder.policy.version:  # end on the pair that does not serve: one more load
                n += 1
                configmap_write(volume, pairs[n % 2], str(n))
            deadline = time.monotonic() + 20
            while holder.policy.version != versions[n % 2]:
                if time.monotonic() > deadline:
                    behind.append(f"burst {burst}: {holder.policy.version} serves, {versions[n % 2]} on disk")
                    return
                time.sleep(0.01)

    task = asyncio.create_task(watcher.run())
    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        await asyncio.to_thread(swapper.join)
    finally:
        task.cancel()
    assert behind == []
    assert len(applied) >= BURSTS  # at least one load applied per burst
    assert [version for version in applied if version not in versions] == []
