"""The ports file and the one-port rule of port 0 (``sidecar.ports_file``)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sidecar import ports_file


def test_write_leaves_the_whole_object_and_no_temporary_file(tmp_path: Path) -> None:
    """``write`` replaces the file with the whole JSON object; nothing else is left in the directory."""
    path = tmp_path / "ports.json"
    path.write_text('{"port": 1, "health_port": 2, "stale": true}')
    ports_file.write(str(path), {"port": 41873, "health_port": None})
    assert orjson.loads(path.read_bytes()) == {"port": 41873, "health_port": None}
    assert [p.name for p in tmp_path.iterdir()] == ["ports.json"]


def test_clear_removes_a_stale_file_and_refuses_a_missing_directory(tmp_path: Path) -> None:
    """``clear`` removes an earlier run's file; a path whose directory is missing is an ``OSError``
    that names it, raised before anything listens."""
    stale = tmp_path / "ports.json"
    stale.write_text('{"port": 1}')
    ports_file.clear(str(stale))
    assert not stale.exists()
    with pytest.raises(OSError, match="no directory"):
        ports_file.clear(str(tmp_path / "missing" / "ports.json"))


def test_one_port_refuses_addresses_bound_to_different_ports() -> None:
    """Sockets of one listener on one port give that port; port 0 on a name with several addresses
    (each socket its own port) is refused, naming them."""
    assert ports_file.one_port([("127.0.0.1", 8080), ("::1", 8080, 0, 0)]) == 8080
    with pytest.raises(OSError, match=r"127\.0\.0\.1:41873, ::1:41874"):
        ports_file.one_port([("127.0.0.1", 41873), ("::1", 41874, 0, 0)])
