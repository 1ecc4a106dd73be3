"""The Redis password file: read per connection, refused with its source named when unusable."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from sidecar.redis_credentials import SecretUnavailable, read_secret


@dataclass(frozen=True)
class Source:
    env: str | None = None
    file: str | None = None


def test_a_password_file_that_is_not_utf8_is_refused_naming_the_file(tmp_path: Path) -> None:
    """Latin-1 bytes are ``SecretUnavailable`` naming the file, not a UnicodeDecodeError from the connect."""
    path = tmp_path / "password"
    path.write_bytes(b"p\xe4ss\n")
    with pytest.raises(SecretUnavailable, match=f"secret file {path} is not UTF-8 text"):
        read_secret(Source(file=str(path)), {})


@pytest.mark.timeout(10)
def test_a_password_file_that_is_a_fifo_is_refused_not_waited_for(tmp_path: Path) -> None:
    """A named pipe is refused at once: opening it would stop the event loop until a writer came."""
    path = tmp_path / "password"
    os.mkfifo(path)
    with pytest.raises(SecretUnavailable, match="cannot be read: not a regular file"):
        read_secret(Source(file=str(path)), {})
