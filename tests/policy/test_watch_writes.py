"""Hot reload and the timing of writes: a file seen half-written (in place, or a new file being
written) is read whole, a swap at once, a broken swap one poll later, and a SIGHUP is never lost."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from sidecar.policy import load_policy
from sidecar.policy.watch import PolicyHolder, PolicyWatcher

from ..configmap import configmap_write
from .watching import V1, V2, default_target, start_polled, wait_for


@pytest.mark.parametrize("new_file", [False, True], ids=["in place", "a new file"])
async def test_a_file_seen_half_written_is_read_whole(tmp_path: Path, new_file: bool) -> None:
    """A policy written in two parts with a poll between them: in place (``cat > policy.yaml`` from a slow
    pipe), or as a new file at its path (vim's save renames the file to a backup and writes a new one;
    ``git checkout`` too), which a poll took as whole: the half seen first is not rejected (a new file
    that does not load is read again once it has held still for a poll), the whole policy is applied."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    holder, task, events, polls = await start_polled(path)
    try:
        cut = V2.index("{target") + 4  # the first part ends inside a flow mapping: not YAML on its own
        if new_file:
            os.replace(path, tmp_path / "policy.yaml~")
        with path.open("w") as handle:
            handle.write(V2[:cut])
            handle.flush()
            await polls.next()  # the watcher has seen the first part alone
            handle.write(V2[cut:])
        await wait_for(lambda: default_target(holder) == "claude")
        assert events == [(True, [])]
        assert holder.reloads_failed == 0 and holder.last_error is None
    finally:
        task.cancel()


async def test_a_broken_file_swapped_in_is_rejected_on_the_next_poll(tmp_path: Path) -> None:
    """A ConfigMap swap to a policy that does not load: rejected once it has held still for one poll (it
    may be a new file still being written), reported once, the old policy serving."""
    configmap_write(tmp_path, V1, "2026_12_04_10_00_00.1")
    holder, task, events, polls = await start_polled(tmp_path / "policy.yaml")
    try:
        configmap_write(tmp_path, V1.replace("target: gpt-4o", "target: gpt-5x"), "2026_12_04_10_01_00.2")
        await polls.next()
        assert events == []
        await polls.next()
        assert events == [(False, ["default.target: unknown model 'gpt-5x'"])]
        for _ in range(12):  # past a safety check
            await polls.next()
        assert len(events) == 1 and default_target(holder) == "gpt-4o"
    finally:
        task.cancel()


async def test_a_write_in_place_waits_one_poll_and_a_swap_none(tmp_path: Path) -> None:
    """A file written in place is applied on the poll after the one that saw it change (held still for a
    poll); a ConfigMap ``..data`` swap, whole when seen, on the poll that sees it."""
    configmap_write(tmp_path, V1, "2026_12_04_10_00_00.1")
    path = tmp_path / "policy.yaml"
    holder, task, _, polls = await start_polled(path)
    try:
        configmap_write(tmp_path, V2, "2026_12_04_10_01_00.2")
        await polls.next()
        assert default_target(holder) == "claude"
        (tmp_path / "..2026_12_04_10_01_00.2" / "policy.yaml").write_text(V1)  # in place, through the link
        await polls.next()
        assert default_target(holder) == "claude"
        await polls.next()
        assert default_target(holder) == "gpt-4o"
    finally:
        task.cancel()


async def test_a_sighup_as_a_poll_times_out_is_not_lost(tmp_path: Path) -> None:
    """reload_now (SIGHUP) called when the wait for the next poll ends: each one is reported. Sleeping the
    poll interval puts the test's wake-up in the loop turn of the watcher's own timer again and again
    (the lost wake-up: the watcher took the turn for a timeout and cleared the request)."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    holder = PolicyHolder(load_policy(path))
    path.write_text(V1.replace("target: gpt-4o", "target: gpt-5x"))
    watcher = PolicyWatcher(str(path), holder, interval=0.02)
    task = asyncio.create_task(watcher.run())
    try:
        await wait_for(lambda: holder.reloads_failed == 1)
        for sighups in range(2, 32):
            await asyncio.sleep(0.02)
            watcher.reload_now()
            await wait_for(lambda n=sighups: holder.reloads_failed == n)
    finally:
        task.cancel()
