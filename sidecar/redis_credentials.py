"""A Redis password from a mounted Secret file or an environment variable, read again for each connection.

Both Redis stores (the budgets' shared counters, the response cache's entries) give redis-py a
``SecretCredentials`` as its ``credential_provider``: redis-py asks it for the user name and password
each time it opens a connection, so a password file the kubelet rotates (a ``..data`` symlink swap)
is used by the next connection, without a restart. Connections already open stay logged in (Redis
keeps them when its password changes); a connection opened after Redis lost them (a restart, a
failover, ``CLIENT KILL``) reads the file again.

``read_secret`` raises ``SecretUnavailable`` naming the source (``environment variable X is not set``,
``secret file F is empty``, ``... is not UTF-8 text``, ``... not a regular file``), never a value;
redis-py passes it through from the connect that needed it. A FIFO is never opened (``read_file``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from redis.credentials import CredentialProvider

from .policy.files import read_file


class SecretSource(Protocol):
    """Where a secret comes from: exactly one of ``env`` or ``file`` is set (the stores' spec blocks)."""

    @property
    def env(self) -> str | None: ...
    @property
    def file(self) -> str | None: ...


class SecretUnavailable(Exception):
    """The secret cannot be had; the message names its source, never a value."""


def read_secret(source: SecretSource, env: Mapping[str, str]) -> str:
    """The secret ``source`` names, without surrounding whitespace (a trailing newline in a file)."""
    if source.env is not None:
        value = env.get(source.env, "").strip()
        if not value:
            raise SecretUnavailable(f"environment variable {source.env} is not set")
        return value
    assert source.file is not None
    try:
        value = read_file(source.file).decode().strip()  # never a FIFO: the event loop would wait on it
    except OSError as exc:
        raise SecretUnavailable(f"secret file {source.file} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SecretUnavailable(f"secret file {source.file} is not UTF-8 text") from None
    if not value:
        raise SecretUnavailable(f"secret file {source.file} is empty")
    return value


class SecretCredentials(CredentialProvider):
    """The user name (if any) and the password ``source`` names, read for each new connection."""

    def __init__(self, username: str | None, source: SecretSource, env: Mapping[str, str]) -> None:
        self._username = username
        self._source = source
        self._env = env

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        password = read_secret(self._source, self._env)
        return (self._username, password) if self._username else (password,)

    async def get_credentials_async(self) -> tuple[str] | tuple[str, str]:
        """What asyncio connections ask (the base's logs a warning per connection): a small local read."""
        return self.get_credentials()
