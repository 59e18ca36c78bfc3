"""Whether a process id on this host still runs: used to tell a dead owner's leftovers (leased
documents, a dead server process's metric files) from a live one's."""

from __future__ import annotations

import os


def pid_exists(pid: int) -> bool:
    """Signal 0 checks existence only; a process we may not signal still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
