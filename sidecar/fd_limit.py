"""The process's file descriptors: the connection limits fitted to what ``ulimit -n`` allows.

Every connection is a file descriptor: each call in flight holds two (the app's connection and its
upstream one). A container whose limit is below what the connection settings add up to ran out in a
burst: the app's connections took every descriptor, every upstream connect then failed (``EMFILE``), and
libuv closed each further connection at once, so that no call was served at all. At start
(``fit_to_file_descriptors``):

- the soft limit is raised to the hard one, as Go's runtime and nginx do (a runtime may give a soft 1,024
  under a hard 1,048,576);
- when it is still below what the settings need (``RESERVED_FDS`` for the process itself, the health
  port's connections, and two per app connection), ``SIDECAR_MAX_CONNECTIONS`` is lowered to half of
  what is left and the upstream limits to the rest, and one ``file_descriptor_limit_low`` warning says
  so with the limit that would do: a connection past the lowered cap is closed as soon as it is accepted
  (``connection_cap_reached``), and a call past the upstream limit waits for a free connection, instead
  of both failing for want of a descriptor.

An upstream connect that still meets ``EMFILE`` (an ensemble's or a hedge's extra calls) is the attempt
error ``too_many_open_files`` (``resilience.classify``), which does not count against the provider's
breaker. ``open_fds`` counts the descriptors open now (``/status``).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from .settings import Settings

try:
    import resource
except ImportError:  # pragma: no cover - Windows has no rlimits
    resource = None  # type: ignore[assignment]

RESERVED_FDS = 64  # stdio, the listening sockets, the event loop's, the policy and key files, Redis, OTLP, DNS


def fit_to_file_descriptors(settings: Settings, log: Any) -> tuple[Settings, int | None]:
    """``settings`` with the connection limits lowered to what the file-descriptor limit (raised to its
    hard limit first) can hold, and that limit (None where the platform has none)."""
    limit = raise_soft_limit()
    if limit is None:
        return settings, None
    needed = RESERVED_FDS + settings.health_max_connections + 2 * settings.max_connections
    if limit >= needed:
        return settings, limit
    room = max(2, limit - RESERVED_FDS - settings.health_max_connections)
    connections = min(settings.max_connections, room // 2)
    upstream = min(settings.upstream_connections, room - connections)
    fitted = dataclasses.replace(
        settings,
        max_connections=connections,
        upstream_connections=upstream,
        upstream_connections_per_host=min(settings.upstream_connections_per_host, upstream),
    )
    log.warning(
        "file_descriptor_limit_low",
        limit=limit,
        needed=needed,
        max_connections=connections,
        upstream_connections=upstream,
        asked_max_connections=settings.max_connections,
    )
    return fitted, limit


def raise_soft_limit() -> int | None:
    """Raise the soft limit on open files to the hard one; the soft limit then (None: no rlimits)."""
    if resource is None:  # pragma: no cover
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:  # not seen on Linux; macOS caps what may be set below it
        return None if soft == resource.RLIM_INFINITY else soft
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (OSError, ValueError):  # not allowed here: keep the soft limit
            return soft
        return hard
    return soft


def open_fds() -> int | None:
    """How many file descriptors the process has open (None where ``/proc`` is not there)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None
