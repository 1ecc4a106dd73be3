"""Hot reload of a policy rejected for a file it reads (a learned router) that the serving policy does not
read: the file put right alone (created, fixed, or added by the next ConfigMap swap with the policy
unchanged) loads the policy, as a fixed router file of the serving policy does."""

from __future__ import annotations

from pathlib import Path

from sidecar.policy.watch import PolicyHolder

from ..configmap import configmap_write
from .policies import LEARNED
from .watching import EXTRACT, V1, Polls, default_target, start_polled, task_of, wait_for

CORRUPT = b'{"format": "llm-sidecar-router", "version": 1'


async def loaded_after_one_rejection(holder: PolicyHolder, events: list[tuple[bool, list[str]]], polls: Polls) -> None:
    """The watcher's second word on the new policy: it serves, with its router, the rejection cleared."""
    await wait_for(lambda: holder.policy.router is not None)
    assert task_of(holder, EXTRACT) == "extraction" and holder.last_error is None
    await polls.past(3)  # and no other word
    assert [ok for ok, _ in events] == [False, True]


async def test_a_policy_rejected_for_a_missing_router_file_loads_when_the_file_is_written(
    tmp_path: Path, router_files: tuple[bytes, bytes]
) -> None:
    """The policy names a router file not written yet: rejected; writing the file (the policy file
    untouched) loads it within a few polls, one reload, the error cleared."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    holder, task, events, polls = await start_polled(path)
    try:
        path.write_text(LEARNED)
        await wait_for(lambda: holder.last_error is not None)
        assert "router.json: cannot read" in holder.last_error.errors[0]  # type: ignore[union-attr]
        (tmp_path / "router.json").write_bytes(router_files[0])
        await loaded_after_one_rejection(holder, events, polls)
    finally:
        task.cancel()


async def test_a_configmap_swap_adding_the_missing_router_file_loads_the_policy(
    tmp_path: Path, router_files: tuple[bytes, bytes]
) -> None:
    """An SRE applies a policy whose router file the ConfigMap lacks (rejected), then adds the file to the
    ConfigMap: the next ..data swap (policy.yaml's bytes unchanged) loads the policy."""
    configmap_write(tmp_path, V1, "2026_12_04_10_00_00.1")
    holder, task, events, polls = await start_polled(tmp_path / "policy.yaml")
    try:
        configmap_write(tmp_path, {"policy.yaml": LEARNED.encode()}, "2026_12_04_10_01_00.2")
        await wait_for(lambda: holder.last_error is not None)
        assert default_target(holder) == "gpt-4o" and holder.policy.router is None
        files = {"policy.yaml": LEARNED.encode(), "router.json": router_files[0]}
        configmap_write(tmp_path, files, "2026_12_04_10_02_00.3")
        await loaded_after_one_rejection(holder, events, polls)
    finally:
        task.cancel()


async def test_a_policy_rejected_for_a_corrupt_new_router_file_loads_when_the_file_is_fixed(
    tmp_path: Path, router_files: tuple[bytes, bytes]
) -> None:
    """A new policy and a corrupt router file (the serving policy has none): rejected once, not again on
    every poll; the router file rewritten whole loads the policy."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    router = tmp_path / "router.json"
    router.write_bytes(CORRUPT)
    holder, task, events, polls = await start_polled(path)
    try:
        path.write_text(LEARNED)
        await wait_for(lambda: holder.last_error is not None)
        await polls.past(10)  # past a safety check: the same contents are not reported again
        assert holder.reloads_failed == 1
        router.write_bytes(router_files[0])
        await loaded_after_one_rejection(holder, events, polls)
    finally:
        task.cancel()
