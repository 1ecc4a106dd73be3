"""Hot reload: a changed policy file is applied within 2 s however it is replaced; a broken one is not."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from sidecar.policy import load_policy
from sidecar.policy.watch import PolicyHolder, PolicyWatcher

from ..configmap import configmap_write
from .policies import LEARNED
from .watching import EXTRACT, V1, V2, Polls, default_target, start, start_polled, task_of, wait_for


async def test_edit_in_place_is_applied(tmp_path: Path) -> None:
    """Writing new content into the same file swaps the policy."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    holder, task, _ = await start(path)
    try:
        path.write_text(V2)
        await wait_for(lambda: default_target(holder) == "claude")
    finally:
        task.cancel()


async def test_replace_by_rename_is_applied(tmp_path: Path) -> None:
    """Renaming a new file over the policy (what editors and `mv` do) swaps the policy."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    holder, task, _ = await start(path)
    try:
        new = tmp_path / ".policy.yaml.tmp"
        new.write_text(V2)
        os.replace(new, path)
        await wait_for(lambda: default_target(holder) == "claude")
    finally:
        task.cancel()


async def test_configmap_symlink_swap_is_applied(tmp_path: Path) -> None:
    """The kubelet's ..data symlink swap (the file path never changes) swaps the policy."""
    configmap_write(tmp_path, V1, "2026_11_28_10_00_00.1")
    path = tmp_path / "policy.yaml"
    holder, task, _ = await start(path)
    try:
        configmap_write(tmp_path, V2, "2026_11_28_10_01_00.2")
        await wait_for(lambda: default_target(holder) == "claude")
    finally:
        task.cancel()


async def test_broken_policy_keeps_the_last_good_one(tmp_path: Path) -> None:
    """An invalid file is rejected: the old policy serves, the error is kept and reported once."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    holder, task, events, polls = await start_polled(path)
    try:
        version = holder.policy.version
        path.write_text(V1.replace("target: gpt-4o", "target: gpt-5x"))
        await wait_for(lambda: holder.last_error is not None)
        await polls.past(3)  # three more polls: the same content is neither applied nor reported again
        assert holder.policy.version == version
        assert holder.last_error is not None and holder.last_error.errors == ("default.target: unknown model 'gpt-5x'",)
        assert events == [(False, ["default.target: unknown model 'gpt-5x'"])]
        assert holder.reloads_failed == 1
        path.write_text(V2)
        await wait_for(lambda: default_target(holder) == "claude")
        assert holder.last_error is None
    finally:
        task.cancel()


async def test_a_sighup_on_a_rejected_file_reports_it_again(tmp_path: Path) -> None:
    """A broken file is rejected once by the polls, and once more for each reload_now (SIGHUP), which asks
    for an answer: the rejection is reported and counted again, the last good policy still serves."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    holder = PolicyHolder(load_policy(path))
    events: list[bool] = []
    polls = Polls()
    watcher = PolicyWatcher(
        str(path), holder, interval=0.1, on_reload=lambda ok, _, errs: events.append(ok), on_tick=polls
    )
    task = asyncio.create_task(watcher.run())
    try:
        path.write_text(V1.replace("target: gpt-4o", "target: gpt-5x"))
        await wait_for(lambda: holder.reloads_failed == 1)
        await polls.past(3)  # three more polls: the same content is not reported again
        assert holder.reloads_failed == 1
        watcher.reload_now()
        await wait_for(lambda: holder.reloads_failed == 2, timeout=1.0)
        assert events == [False, False] and default_target(holder) == "gpt-4o"
    finally:
        task.cancel()


async def test_a_policy_nested_past_the_parsers_depth_is_rejected_and_reloads_go_on(tmp_path: Path) -> None:
    """A file nesting 5,000 lists deep (a templating slip): a rejected reload naming the depth, and the
    watcher lives on to apply the next good file (the parser's RecursionError used to end the watcher:
    no later reload was ever applied)."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    holder, task, events = await start(path)
    try:
        path.write_text(V1 + "x: " + "[" * 5000 + "]" * 5000 + "\n")
        await wait_for(lambda: holder.last_error is not None, 20)  # the parse takes about 2 s of CPU here
        assert holder.last_error is not None
        assert holder.last_error.errors[0].startswith("invalid YAML: nested too deeply")
        path.write_text(V2)
        await wait_for(lambda: default_target(holder) == "claude")
        assert not task.done() and [ok for ok, _ in events] == [False, True]
    finally:
        task.cancel()


async def test_an_error_in_a_poll_is_a_rejected_reload_once_and_polling_goes_on(tmp_path: Path) -> None:
    """Whatever a poll raises (here the tick's work: key and TLS files) is reported once as a rejected
    reload, its type and message in one line, and the watcher lives on: a new policy written while the
    tick still fails is applied (it used to end the task: hot reload stopped for the life of the pod
    without a word)."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    holder = PolicyHolder(load_policy(path))
    events: list[tuple[bool, list[str]]] = []
    ticks = []

    def tick() -> None:
        ticks.append(1)
        if len(ticks) <= 40:
            raise UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte")

    watcher = PolicyWatcher(
        str(path), holder, interval=0.05, on_reload=lambda ok, _, errs: events.append((ok, errs)), on_tick=tick
    )
    task = asyncio.create_task(watcher.run())
    try:
        await wait_for(lambda: len(ticks) > 5)
        decoding = "'utf-8' codec can't decode byte 0xe9 in position 0: invalid continuation byte"
        assert events == [(False, [f"reload tick failed: UnicodeDecodeError: {decoding}"])]
        assert holder.reloads_failed == 1
        path.write_text(V2)
        await wait_for(lambda: default_target(holder) == "claude")
        assert len(ticks) <= 40, "applied while the tick still failed"
        assert not task.done() and holder.last_error is None and events[1:] == [(True, [])]
    finally:
        task.cancel()


async def test_reload_now_rereads_without_waiting_for_a_poll(tmp_path: Path) -> None:
    """reload_now (SIGHUP) applies a change at once, even when the stat signature did not move."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    holder = PolicyHolder(load_policy(path))
    watcher = PolicyWatcher(str(path), holder, interval=30)
    task = asyncio.create_task(watcher.run())
    try:
        stat = path.stat()
        path.write_text(V2)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        watcher.reload_now()
        await wait_for(lambda: default_target(holder) == "claude", timeout=1.0)
    finally:
        task.cancel()


async def test_changed_router_file_alone_is_applied(tmp_path: Path, router_files: tuple[bytes, bytes]) -> None:
    """Rewriting the learned router file (the policy file untouched) swaps the policy: the new file
    decides, and the version changes."""
    plain, swapped = router_files
    (tmp_path / "router.json").write_bytes(plain)
    path = tmp_path / "policy.yaml"
    path.write_text(LEARNED)
    holder, task, events = await start(path)
    try:
        version = holder.policy.version
        assert task_of(holder, EXTRACT) == "extraction"
        (tmp_path / "router.json").write_bytes(swapped)
        await wait_for(lambda: task_of(holder, EXTRACT) == "code")
        assert holder.policy.version != version
        assert events == [(True, [])]
    finally:
        task.cancel()


async def test_broken_router_file_keeps_the_last_good_policy(tmp_path: Path, router_files: tuple[bytes, bytes]) -> None:
    """A corrupt router file is a failed reload with its reason, reported once; the old router decides."""
    (tmp_path / "router.json").write_bytes(router_files[0])
    path = tmp_path / "policy.yaml"
    path.write_text(LEARNED)
    holder, task, events, polls = await start_polled(path)
    try:
        version = holder.policy.version
        (tmp_path / "router.json").write_text('{"format": "llm-sidecar-router", "version": 1')
        await wait_for(lambda: holder.last_error is not None)
        await polls.past(3)  # three more polls: neither applied nor reported again
        assert holder.policy.version == version and task_of(holder, EXTRACT) == "extraction"
        assert holder.reloads_failed == 1 and len(events) == 1
        assert holder.last_error is not None
        (error,) = holder.last_error.errors
        assert error.startswith("routing.learned.file: router.json: invalid JSON")
    finally:
        task.cancel()


@pytest.mark.timeout(20)
async def test_a_router_file_that_vanishes_or_turns_into_a_fifo_is_rejected_and_its_return_restores(
    tmp_path: Path, router_files: tuple[bytes, bytes]
) -> None:
    """The router file deleted between reloads is one rejected reload (the old router decides); a named
    pipe in its place is as unreadable, without blocking the loop (opening it waited for a writer); the
    file put back as it was is the serving policy again: no reload, the error cleared."""
    router = tmp_path / "router.json"
    router.write_bytes(router_files[0])
    path = tmp_path / "policy.yaml"
    path.write_text(LEARNED)
    holder, task, events, polls = await start_polled(path)
    try:
        version = holder.policy.version
        router.unlink()
        await wait_for(lambda: holder.last_error is not None)
        assert holder.last_error is not None and "cannot read" in holder.last_error.errors[0]
        os.mkfifo(router)  # still unreadable: no new report, and the loop is not stuck opening it
        await polls.past(3)  # the loop goes on polling: not stuck opening the pipe
        assert holder.last_error is not None and not task.done()
        router.unlink()
        router.write_bytes(router_files[0])
        await wait_for(lambda: holder.last_error is None)
        assert holder.policy.version == version and task_of(holder, EXTRACT) == "extraction"
        assert [ok for ok, _ in events] == [False] and holder.reloads_ok == 0  # reported once
    finally:
        task.cancel()


async def test_configmap_swap_is_applied_once(tmp_path: Path) -> None:
    """One ..data swap is one reload: the stat poll sees it, and neither a later poll nor the content-hash
    safety check (every 10th poll) applies or reports it again."""
    configmap_write(tmp_path, V1, "2026_11_28_10_00_00.1")
    holder, task, events, polls = await start_polled(tmp_path / "policy.yaml")
    try:
        configmap_write(tmp_path, V2, "2026_11_28_10_01_00.2")
        await wait_for(lambda: default_target(holder) == "claude")
        await polls.past(10)  # past a safety check
        assert events == [(True, [])]
        assert holder.reloads_ok == 1 and holder.reloads_failed == 0
    finally:
        task.cancel()


async def start_with_restores(path: Path) -> tuple[PolicyHolder, asyncio.Task[None], list[str], Polls]:
    """A watcher whose events are recorded as words: reloaded, rejected, restored (version)."""
    holder = PolicyHolder(load_policy(path))
    events: list[str] = []
    polls = Polls()
    watcher = PolicyWatcher(
        str(path),
        holder,
        interval=0.1,
        on_reload=lambda ok, _, errs: events.append("reloaded" if ok else f"rejected {errs}"),
        on_restore=lambda policy: events.append(f"restored {policy.version}"),
        on_tick=polls,
    )
    return holder, asyncio.create_task(watcher.run()), events, polls


async def test_rolling_back_to_the_serving_policy_clears_the_rejection(tmp_path: Path) -> None:
    """The runbook's rollback: a ConfigMap swap to a broken file is rejected, the swap back to the file
    that serves is no reload (the same version), but the pod no longer serves a stale policy: the
    rejection is cleared and reported as restored, once."""
    configmap_write(tmp_path, V1, "2026_11_28_10_00_00.1")
    holder, task, events, polls = await start_with_restores(tmp_path / "policy.yaml")
    try:
        version = holder.policy.version
        configmap_write(tmp_path, V1.replace("target: gpt-4o", "target: gpt-5x"), "2026_11_28_10_01_00.2")
        await wait_for(lambda: holder.last_error is not None)
        configmap_write(tmp_path, V1, "2026_11_28_10_02_00.3")
        await wait_for(lambda: holder.last_error is None)
        await polls.past(10)  # past a safety check: reported once
        assert events == ["rejected [\"default.target: unknown model 'gpt-5x'\"]", f"restored {version}"]
        assert holder.policy.version == version and holder.reloads_ok == 0 and holder.reloads_failed == 1
    finally:
        task.cancel()


async def test_a_deleted_policy_file_is_reported_once_and_its_return_clears_it(tmp_path: Path) -> None:
    """A policy file deleted (the last good policy serves) is one rejection, not one per safety check; the
    same file written back restores the pod without a reload, and a new one after that reloads."""
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    holder, task, events, polls = await start_with_restores(path)
    try:
        version = holder.policy.version
        path.unlink()
        await wait_for(lambda: holder.last_error is not None)
        await polls.past(10)  # past a safety check
        assert events == [f"rejected ['cannot read {path}: No such file or directory']"]
        path.write_text(V1)
        await wait_for(lambda: holder.last_error is None)
        assert events[1:] == [f"restored {version}"] and holder.reloads_failed == 1
        path.write_text(V2)
        await wait_for(lambda: default_target(holder) == "claude")
        assert events[2:] == ["reloaded"]
    finally:
        task.cancel()


async def test_one_configmap_swap_of_policy_and_router_is_one_reload(
    tmp_path: Path, router_files: tuple[bytes, bytes]
) -> None:
    """A ConfigMap holding the policy and its learned router, both changed in one ..data swap: one
    reload, to the new policy with the new router (never the new policy with the old router)."""
    plain, swapped = router_files
    configmap_write(tmp_path, {"policy.yaml": LEARNED.encode(), "router.json": plain}, "2026_12_04_10_00_00.1")
    holder, task, events, polls = await start_polled(tmp_path / "policy.yaml")
    try:
        assert task_of(holder, EXTRACT) == "extraction"
        changed = LEARNED.replace("default: {target: gpt-4o}", "default: {target: claude}")
        configmap_write(tmp_path, {"policy.yaml": changed.encode(), "router.json": swapped}, "2026_12_04_10_01_00.2")
        await wait_for(lambda: default_target(holder) == "claude")
        assert task_of(holder, EXTRACT) == "code"
        await polls.past(10)  # past a safety check
        assert events == [(True, [])]
    finally:
        task.cancel()
