"""A policy's version covers the files it read when compiled (the learned router), and only then."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from sidecar.policy import PolicyError, load_policy

from .policies import BASE, LEARNED


def test_version_covers_the_router_file(tmp_path: Path, router_files: tuple[bytes, bytes]) -> None:
    """The same policy bytes with another router file have another version, and list the file read."""
    path = tmp_path / "policy.yaml"
    path.write_text(LEARNED)
    (tmp_path / "router.json").write_bytes(router_files[0])
    first = load_policy(path)
    (tmp_path / "router.json").write_bytes(router_files[1])
    second = load_policy(path)
    assert first.version != second.version
    assert [f.path for f in second.files] == [str(tmp_path / "router.json")]


def test_version_without_files_is_the_hash_of_the_bytes(tmp_path: Path) -> None:
    """A policy that reads no other file keeps the version it always had: the hash of its bytes."""
    path = tmp_path / "policy.yaml"
    path.write_text(BASE + "default: {target: gpt-4o}\n")
    policy = load_policy(path)
    assert policy.files == ()
    assert policy.version == hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@pytest.mark.timeout(10)
def test_a_router_file_that_is_a_fifo_is_refused_not_waited_for(tmp_path: Path) -> None:
    """A named pipe where the router file should be fails the load at once, naming it: reading it would
    wait for a writer forever (in the server, on the event loop: the whole pod would stop)."""
    path = tmp_path / "policy.yaml"
    path.write_text(LEARNED)
    os.mkfifo(tmp_path / "router.json")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert any("router.json" in e and "not a regular file" in e for e in caught.value.errors), caught.value.errors


@pytest.mark.timeout(10)
def test_a_policy_given_as_a_pipe_is_read(tmp_path: Path) -> None:
    """``llm-sidecar validate <(git show HEAD:policy.yaml)`` reads the pipe: only the watcher and the
    files a policy names refuse what is not a regular file (the server must never wait on one)."""
    pipe = tmp_path / "policy.yaml"
    os.mkfifo(pipe)
    writer = threading.Thread(target=pipe.write_text, args=(BASE + "default: {target: gpt-4o}\n",))
    writer.start()
    try:
        assert load_policy(pipe).default is not None
    finally:
        writer.join()
