"""Only the account MedUpload runs as may read what it writes: files 0600 in directories 0700.

Uploads, the database, Reflex's pickled UI state (``.states``) and the signing key are PHI or
secrets. Entry points set the umask first; the places that create those paths also set the modes
explicitly, so a library that ignores the umask, or an install from before, is put right too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict_process() -> None:
    """New files 0600 and directories 0700 in this process and the processes it starts."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """``path`` and any missing parents created 0700; an existing ``path`` made 0700 (its existing
    parents are left alone: they may be /tmp or a mount point)."""
    missing = [parent for parent in (path, *path.parents) if not parent.exists()]
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)
    path.chmod(DIR_MODE)
    return path


def private_file(path: Path) -> None:
    """Create ``path`` empty as 0600 if missing; make it 0600 if it exists."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    path.chmod(FILE_MODE)


def private_tree(path: Path) -> None:
    """A directory written by someone else (Reflex's ``.states``): 0700 directories, 0600 files."""
    if not path.is_dir():
        return
    path.chmod(DIR_MODE)
    for item in path.rglob("*"):
        with contextlib.suppress(FileNotFoundError):  # Reflex may remove a state file meanwhile
            item.chmod(DIR_MODE if item.is_dir() else FILE_MODE)
