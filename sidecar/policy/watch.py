"""Hot reload: keep the current policy, swap it by one assignment when its file changes.

``PolicyHolder.policy`` is the one reference requests read at their start; a request keeps the policy
it started with. ``PolicyWatcher`` polls the file's stat signature (device, inode, mtime, size; the
stat follows symlinks) every ``interval`` seconds and hashes the bytes when it changes, which catches
all three ways a file is updated:

- edited in place (mtime/size change),
- replaced by rename (new inode),
- a Kubernetes ConfigMap volume update (``..data`` symlink swap: the path resolves to a new inode).

A file replaced whole (a new inode where there was a file: a rename, a ConfigMap swap) is complete
when it is seen, so it is read on that poll. A file written in place (an editor, ``cat > policy.yaml``)
may be seen half-written, so it is read once its signature has held still for one poll (as file
watchers debounce a burst of writes): a real reload waits one ``interval`` more, never a rejection of
the first half. A new inode is not always whole either (vim renames the file to a backup and writes a
new one; ``git checkout`` unlinks and writes): a new file that does not load is not rejected on the
poll that first reads it, but read again once it has held still for a poll (a valid one is applied
at once; a broken ConfigMap is reported one ``interval`` later). A write slower than that (a pause
longer than ``interval`` between two parts) can still be read half-written; SIGHUP reads at once. A
policy file replaced while it was being read and loaded is neither applied nor rejected but read again
on the next poll: its router file may have come from the next ConfigMap swap.

The files the policy read when it was compiled (``Policy.files``: a learned router file) are polled
the same way and are part of the version (``files.policy_version``): a changed router file alone
reloads the policy. So are the files a rejected policy names (``PolicyError.files``), read or not: a
policy rejected for a router file that is missing or broken loads once that file alone is put right
(written, or added by the next ConfigMap swap with the policy's bytes unchanged). In Kubernetes both
must live in the mounted ConfigMap, so one ``..data`` swap changes them together.

A content hash is also checked every ``safety_every`` polls, for filesystems whose mtime lies. A file
that fails to parse or validate (the policy or a file it reads) is rejected: the last good policy
keeps serving, the error is logged, kept for ``/status`` and counted, once per content and again for
each ``reload_now`` (a SIGHUP asks for an answer, even just after a poll rejected the same file); a
file that cannot be read, once until it can (a directory, FIFO or device is never opened:
``files.read_file``).
Nothing a poll raises ends the watcher: an unexpected error while loading (a defect in a compile step,
``MemoryError``) or in the tick's work (key and TLS files) is a rejected reload too, its type and
message in one line, once per message, and the next poll runs: a failing tick never stops the policy
from being read. When the file is written back to the policy that serves (the
runbook's rollback of a rejected change, or a deleted file restored) nothing is reloaded, but the pod no
longer serves a stale policy: the error is cleared and ``on_restore`` says so. ``reload_now()``
(SIGHUP) reloads at once, also when it comes as the wait for a poll ends (several before the reload
are one).

A policy is parsed, validated and compiled in a worker thread (``asyncio.to_thread``), the cyclic
garbage collector paused meanwhile; the swap and what follows it (``on_reload``) stay on the event
loop. A policy of 5,000 routes takes one to three seconds to load on the loaded machine: requests are
answered meanwhile (held up 0.03-0.27 s at worst, when the load has the GIL), not made to wait it out.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .compiled import Policy, PolicyError
from .files import current_digest, policy_version, read_file
from .load import load_policy_bytes


@dataclass(frozen=True, slots=True)
class ReloadError:
    at: float
    errors: tuple[str, ...]


class PolicyHolder:
    """The current policy and the history /status shows."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.last_error: ReloadError | None = None
        self.reloads_ok = 0
        self.reloads_failed = 0


ReloadListener = Callable[[bool, Policy | None, list[str]], None]
RestoreListener = Callable[[Policy], None]


Signature = tuple[int, int, int, int] | None


def _replaced(old: Signature, new: Signature) -> bool:
    """A new file (another device or inode) where there was one: a rename or a ConfigMap swap, whole."""
    return old is not None and new is not None and old[:2] != new[:2]


def _settled(old: tuple[Signature, ...], new: tuple[Signature, ...], seen: tuple[Signature, ...] | None) -> bool:
    """Whether ``new`` can be read: what changed since ``old`` was replaced whole, or ``new`` is what the
    last poll saw too (a write in place that has held still for a poll)."""
    if new == seen:
        return True
    return len(old) == len(new) and all(a == b or _replaced(a, b) for a, b in zip(old, new, strict=True))


def _described(exc: BaseException) -> str:
    """An unexpected error in one line: its type and message, no traceback."""
    message = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a policy loads in the worker thread (on again after, as it
    was). A collection holds the GIL, and a load of thousands of routes makes the heap grow enough to
    set off several full ones, each walking every object alive: 5,000 routes held the event loop for
    up to 0.4 s that way (with it off: 0.05 s at most, and the load took half the time). Requests'
    objects are freed by reference counting meanwhile; their rare cycles wait for the next collection."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _signature(path: str) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class PolicyWatcher:
    def __init__(
        self,
        path: str,
        holder: PolicyHolder,
        *,
        interval: float = 0.5,
        safety_every: int = 10,
        on_reload: ReloadListener | None = None,
        on_restore: RestoreListener | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self._path = path
        self._holder = holder
        self._interval = interval
        self._safety_every = safety_every
        self._on_reload = on_reload
        self._on_restore = on_restore
        self._on_tick = on_tick
        self._rejected_files: tuple[str, ...] = ()  # the files the last rejected policy names
        self._signature = self._signatures()
        self._unsettled: tuple[Signature, ...] | None = None  # a change seen, being written in place
        self._digest = holder.policy.version  # the content last looked at: the policy's bytes and its files'
        self._tick_error: str | None = None  # the tick's last failure, reported once
        self._wake = asyncio.Event()

    def reload_now(self) -> None:
        """Ask the loop to re-read the file at once (SIGHUP)."""
        self._wake.set()

    async def run(self) -> None:
        polls = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            forced = self._wake.is_set()  # also when it was set as the wait timed out: never lost
            self._wake.clear()
            polls += 1
            try:
                await self._poll(forced=forced, safety=polls % self._safety_every == 0)
            except Exception as exc:  # whatever it was, the next poll runs: hot reload never stops
                errors = [f"reload failed: {_described(exc)}"]
                last = self._holder.last_error
                if forced or last is None or list(last.errors) != errors:  # once, not every poll
                    self._reject(errors)
            self._tick()  # after the poll: a test's ``on_tick`` wakes it once the poll's load is done

    def _tick(self) -> None:
        """The tick's work (key and TLS files), after each poll; its failure is reported once per message,
        and the next poll of the policy still runs."""
        if self._on_tick is None:
            return
        try:
            self._on_tick()
        except Exception as exc:
            error = f"reload tick failed: {_described(exc)}"
            if error != self._tick_error:
                self._tick_error = error
                self._reject([error])
        else:
            self._tick_error = None

    async def _poll(self, *, forced: bool, safety: bool) -> None:
        """One poll: a read when a file changed and has settled (or when asked)."""
        signature = self._signatures()
        held = True  # the signature read has held still for a poll (or a read was asked for)
        if signature != self._signature and not forced:
            if not _settled(self._signature, signature, self._unsettled):
                self._unsettled = signature  # read on the next poll if it holds still
                return
            held = signature == self._unsettled
        elif not (forced or safety):
            return
        previous, self._signature = self._signature, signature
        self._unsettled = None
        if await self.check(forced=forced, provisional=not held) is None:
            self._signature, self._unsettled = previous, signature  # again on the next poll if it holds still

    def _signatures(self) -> tuple[Signature, ...]:
        """The stat signatures of the policy file, of the files the serving policy read and of those the
        last rejected policy names."""
        files = (*(f.path for f in self._holder.policy.files), *self._rejected_files)
        return (_signature(self._path), *(_signature(path) for path in files))

    def _candidate(self, data: bytes) -> str:
        """The digest of the file's content as a candidate: its bytes and the files the last rejected
        policy names (the same bytes name the same files)."""
        return policy_version(data, (current_digest(path) for path in self._rejected_files))

    def _rejected_names(self, files: tuple[str, ...]) -> None:
        """The files the candidate just rejected names (none when it is accepted or restored): polled from
        now on."""
        if files != self._rejected_files:
            self._rejected_files = files
            self._signature = self._signatures()

    async def check(self, *, forced: bool = False, provisional: bool = False) -> bool | None:
        """Re-read the file and the files the serving policy read; swap the policy when any content
        changed and the whole is valid. True on a swap. ``provisional`` (a new file, just seen): a file
        that does not load is not rejected, None says so (it may still be being written). None too when
        the file was replaced while it was read and loaded: a ConfigMap swap between the read of the
        policy and that of its router file made a policy no ConfigMap held (read again next poll). The
        parse, validation and compile run in a worker thread (a policy of thousands of routes takes a
        second of CPU): requests are served meanwhile by the policy that serves; the swap is on the loop."""
        before = _signature(self._path)
        try:
            data = read_file(self._path)
        except OSError as exc:
            errors = [f"cannot read {self._path}: {exc.strerror or exc}"]
            last = self._holder.last_error
            if forced or last is None or list(last.errors) != errors:  # reported once, not every safety poll
                self._reject(errors)
            return False
        digest = policy_version(data, (current_digest(f.path) for f in self._holder.policy.files))
        if digest == self._holder.policy.version:  # the file is the policy that serves: nothing to load
            self._digest = digest
            self._rejected_names(())
            if self._holder.last_error is not None:
                self._restored()
            return False
        if self._candidate(data) == self._digest and not forced:
            return False
        try:
            with _collector_paused():
                policy = await asyncio.to_thread(load_policy_bytes, data, self._path)
        except PolicyError as exc:
            if provisional or _signature(self._path) != before:
                return None
            self._rejected_names(exc.files)
            self._digest = self._candidate(data)  # do not re-report the same broken content every poll
            self._reject(exc.errors)
            return False
        except Exception as exc:  # a defect in a compile step, MemoryError: still a rejected reload
            if provisional or _signature(self._path) != before:
                return None
            self._rejected_names(())
            self._digest = self._candidate(data)
            self._reject([f"cannot load {self._path}: {_described(exc)}"])
            return False
        if _signature(self._path) != before:  # replaced while it was read: maybe mixed with the new files
            return None
        self._holder.policy = policy  # the one assignment that swaps the policy
        self._digest = policy.version
        self._rejected_files = ()
        self._signature = self._signatures()  # the new policy's files, from now on
        self._holder.last_error = None
        self._holder.reloads_ok += 1
        if self._on_reload is not None:
            self._on_reload(True, policy, [])
        return True

    def _restored(self) -> None:
        """The file on disk is the serving policy again after a rejection: the pod is not stale."""
        self._holder.last_error = None
        if self._on_restore is not None:
            self._on_restore(self._holder.policy)

    def _reject(self, errors: list[str]) -> None:
        self._holder.last_error = ReloadError(time.time(), tuple(errors))
        self._holder.reloads_failed += 1
        if self._on_reload is not None:
            self._on_reload(False, None, errors)
