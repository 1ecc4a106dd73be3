"""Provider keys: a key that would split the upstream request is refused, naming its source only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sidecar.credentials import CredentialError, Credentials
from sidecar.policy.spec import ApiKeySpec


@pytest.mark.parametrize("inside", ["\n", "\r", "\0"], ids=["LF", "CR", "NUL"])
def test_a_key_file_with_a_line_break_inside_is_refused(tmp_path: Path, inside: str) -> None:
    """A key file whose key holds CR, LF or NUL (not just a trailing newline) fails, naming the file."""
    path = tmp_path / "key"
    path.write_text(f"sk-first{inside}x-injected: 1\n")
    with pytest.raises(CredentialError, match=f"key file {path} holds a line break or NUL") as caught:
        Credentials({}).key_for(ApiKeySpec(file=str(path)), None)
    assert "sk-first" not in str(caught.value)


def test_a_key_variable_with_a_line_break_inside_is_refused() -> None:
    """An environment variable whose key holds a line break fails, naming the variable."""
    with pytest.raises(CredentialError, match="environment variable OPENAI_API_KEY holds a line break"):
        Credentials({"OPENAI_API_KEY": "sk-a\r\nx: y"}).key_for(ApiKeySpec(env="OPENAI_API_KEY"), None)


def test_a_trailing_newline_is_not_part_of_the_key(tmp_path: Path) -> None:
    """The newline an editor or `kubectl create secret --from-file` leaves at the end is stripped."""
    path = tmp_path / "key"
    path.write_text("sk-fine\n")
    assert Credentials({}).key_for(ApiKeySpec(file=str(path)), None) == "sk-fine"


def _write_in_place(path: Path, text: str) -> None:
    """Write ``text`` over ``path``'s bytes in the same inode, as ``echo KEY > file`` does."""
    with open(path, "r+", encoding="utf-8") as handle:
        handle.truncate(0)
        handle.write(text)


def test_a_key_half_written_in_place_is_not_used(tmp_path: Path) -> None:
    """A key file rewritten in place is seen half-written by one poll: the old key serves until the file
    has held still for a poll, then the whole new key does; the partial key is never used."""
    path = tmp_path / "key"
    path.write_text("sk-old-key\n")
    credentials, spec = Credentials({}), ApiKeySpec(file=str(path))
    assert credentials.key_for(spec, None) == "sk-old-key"
    _write_in_place(path, "sk-ne")
    assert credentials.refresh() == ([], [])
    assert credentials.key_for(spec, None) == "sk-old-key"
    _write_in_place(path, "sk-new-key\n")
    assert credentials.refresh() == ([], [])
    assert credentials.key_for(spec, None) == "sk-old-key"
    assert credentials.refresh() == ([str(path)], [])
    assert credentials.key_for(spec, None) == "sk-new-key"


def test_a_truncated_key_file_keeps_the_last_key_and_says_so_once(tmp_path: Path) -> None:
    """A key file left empty in place keeps the last key read serving; the refusal is reported once,
    naming the file and not the key."""
    path = tmp_path / "key"
    path.write_text("sk-old-key\n")
    credentials, spec = Credentials({}), ApiKeySpec(file=str(path))
    credentials.key_for(spec, None)
    _write_in_place(path, "")
    assert credentials.refresh() == ([], [])
    assert credentials.refresh() == ([], [f"key file {path} is empty"])
    assert credentials.refresh() == ([], [])
    assert credentials.key_for(spec, None) == "sk-old-key"


def secret_volume(tmp_path: Path, first: str, second: str) -> tuple[Credentials, ApiKeySpec]:
    """A key file as the kubelet mounts a Secret (``key`` -> ``..data/key``, ``..data`` -> ``v1``), ``first``
    read through it; ``v2`` holds ``second`` for ``rotate``."""
    for name, key in (("v1", first), ("v2", second)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "key").write_text(key)
    (tmp_path / "..data").symlink_to("v1")
    (tmp_path / "key").symlink_to("..data/key")
    credentials, spec = Credentials({}), ApiKeySpec(file=str(tmp_path / "key"))
    assert credentials.key_for(spec, None) == first
    return credentials, spec


def rotate(tmp_path: Path) -> None:
    """The kubelet's swap: ``..data`` re-pointed to ``v2`` by a rename."""
    (tmp_path / "..data_tmp").symlink_to("v2")
    (tmp_path / "..data_tmp").rename(tmp_path / "..data")


def test_a_key_file_swapped_by_symlink_is_read_on_the_next_poll(tmp_path: Path) -> None:
    """The kubelet's rotation (the ``..data`` symlink swapped to a new directory) is complete when seen:
    the new key is used after one poll, with no wait."""
    credentials, spec = secret_volume(tmp_path, "sk-one", "sk-two")
    rotate(tmp_path)
    assert credentials.refresh() == ([str(tmp_path / "key")], [])
    assert credentials.key_for(spec, None) == "sk-two"


def test_a_swap_that_leaves_a_key_unchanged_is_not_reported_as_a_reload(tmp_path: Path) -> None:
    """The kubelet swaps the whole Secret at once: a key file whose content is the same after the swap
    is not reported as re-read (only the rotated key is), and is not read again on the next poll."""
    credentials, spec = secret_volume(tmp_path, "sk-one", "sk-one")
    rotate(tmp_path)
    assert credentials.refresh() == ([], [])
    os.unlink(tmp_path / "v1" / "key")  # a file still read through the old signature would be gone
    assert credentials.refresh() == ([], [])
    assert credentials.key_for(spec, None) == "sk-one"


def test_a_removed_key_file_keeps_the_last_key_and_says_so_once(tmp_path: Path) -> None:
    """A key file that disappears keeps the last key read; the refusal is reported once, not every poll."""
    path = tmp_path / "key"
    path.write_text("sk-old-key")
    credentials, spec = Credentials({}), ApiKeySpec(file=str(path))
    credentials.key_for(spec, None)
    path.unlink()
    assert credentials.refresh() == ([], [f"key file {path} cannot be read: No such file or directory"])
    assert credentials.refresh() == ([], [])
    assert credentials.key_for(spec, None) == "sk-old-key"


def test_a_key_file_rewritten_as_latin1_keeps_the_last_key_and_says_so_once(tmp_path: Path) -> None:
    """A key file whose bytes are not UTF-8 is refused like an empty one, naming the file (its
    UnicodeDecodeError escaped ``refresh`` and ended the reload loop: no later policy was applied)."""
    path = tmp_path / "key"
    path.write_text("sk-old-key\n")
    credentials, spec = Credentials({}), ApiKeySpec(file=str(path))
    credentials.key_for(spec, None)
    new = tmp_path / "key.new"
    new.write_bytes(b"sk-caf\xe9\n")
    new.replace(path)
    assert credentials.refresh() == ([], [f"key file {path} is not UTF-8 text"])
    assert credentials.refresh() == ([], [])
    assert credentials.key_for(spec, None) == "sk-old-key"


@pytest.mark.timeout(10)
def test_a_fifo_in_place_of_a_key_file_is_refused_not_waited_for(tmp_path: Path) -> None:
    """A named pipe where a key file was is refused at once (reading it would stop the event loop until
    something wrote to it); a key file that is a FIFO from the start fails the call the same way."""
    path = tmp_path / "key"
    path.write_text("sk-old-key\n")
    credentials, spec = Credentials({}), ApiKeySpec(file=str(path))
    credentials.key_for(spec, None)
    path.unlink()
    os.mkfifo(path)
    assert credentials.refresh() == ([], [f"key file {path} cannot be read: not a regular file"])
    assert credentials.key_for(spec, None) == "sk-old-key"
    with pytest.raises(CredentialError, match="not a regular file"):
        Credentials({}).key_for(spec, None)
