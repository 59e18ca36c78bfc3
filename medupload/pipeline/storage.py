"""Content-addressed storage of raw uploads: ``STORAGE_DIR/<sha[:2]>/<sha>``.

A file is written once, atomically (temp file in the same directory tree, fsync, rename, fsync of
the directory), and never modified: a crash leaves either the whole file or nothing under its
final name. Paths are derived from the hash only, so they carry no filename or other PHI.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from medupload.fsmodes import private_dir
from medupload.settings import get_settings


def storage_root() -> Path:
    return Path(get_settings().storage_dir)


def incoming_dir() -> Path:
    """Where uploads are received before their hash is known (same filesystem: rename is atomic)."""
    private_dir(storage_root())
    return private_dir(storage_root() / "incoming")


def path_for(sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a lowercase hex sha256")
    return storage_root() / sha256[:2] / sha256


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store(temp_path: Path, sha256: str) -> Path:
    """Move a received temp file to its content address; keep the existing copy if there is one."""
    final = path_for(sha256)
    if final.exists():
        with contextlib.suppress(FileNotFoundError):
            temp_path.unlink()
        return final
    private_dir(final.parent)
    with open(temp_path, "rb+") as handle:
        os.fsync(handle.fileno())
    # os.replace is atomic on one filesystem; two concurrent uploads of the same bytes both
    # end with one complete file under the final name.
    os.replace(temp_path, final)
    _fsync_dir(final.parent)
    return final
