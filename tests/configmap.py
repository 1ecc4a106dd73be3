"""A directory updated as the kubelet updates a mounted ConfigMap or Secret volume: the files are
symlinks through ``..data``, swapped by one rename (``configmap_write``). What a watcher of a policy,
a key file or a password file sees in a pod.
"""

from __future__ import annotations

import os
from pathlib import Path


def configmap_write(volume: Path, content: str | dict[str, bytes], stamp: str) -> None:
    """Update a directory the way the kubelet updates a ConfigMap volume (atomic_writer.go): every key
    (the policy alone, or ``{file name: bytes}``) in a new directory, one ``..data`` rename."""
    files = {"policy.yaml": content.encode()} if isinstance(content, str) else content
    data_dir = volume / f"..{stamp}"
    data_dir.mkdir()
    for name, data in files.items():
        (data_dir / name).write_bytes(data)
    tmp_link = volume / "..data_tmp"
    tmp_link.symlink_to(data_dir.name)
    old = os.readlink(volume / "..data") if (volume / "..data").is_symlink() else None
    os.replace(tmp_link, volume / "..data")
    for name in files:
        if not (volume / name).is_symlink():
            (volume / name).symlink_to(f"..data/{name}")
    if old:
        for child in (volume / old).iterdir():
            child.unlink()
        (volume / old).rmdir()
