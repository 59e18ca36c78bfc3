"""The per-document lease: at most one run of a document at a time.

In-process always (a set guarded by a lock); in queue mode also a Redis key with a short TTL,
renewed while the run is alive, so a kill -9'ed worker's lease lapses within seconds.

Owners: a document row names the process that has it (``owner_id()``: host, pid and the pid's
start time, so a reused pid is not taken for the old process). On the same host, whether that
process still lives is known at once from ``/proc``; that is what start-up recovery asks.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from medupload.processes import pid_exists
from medupload.redis_client import sync_redis
from medupload.settings import get_settings

LEASE_SECONDS = 15.0

_local_leases: set[str] = set()
_local_lock = threading.Lock()
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_RENEW = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
          "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0")


class DocumentBusy(Exception):
    """Another run holds this document's lease (the queue retries later)."""


def lease_key(document_id: str) -> str:
    return get_settings().redis_key(f"doc_lease:{document_id}")


@contextlib.contextmanager
def lease(document_id: str) -> Iterator[None]:
    """Hold the document's lease for the block; raises DocumentBusy if another run has it."""
    with _local_lock:
        if document_id in _local_leases:
            raise DocumentBusy(document_id)
        _local_leases.add(document_id)
    try:
        if get_settings().pipeline_mode != "queue":
            yield
            return
        # The holder's pid is in the value: operators (and the kill -9 test) can see who runs it.
        client, key, token = sync_redis(), lease_key(document_id), f"{os.getpid()}:{secrets.token_hex(8)}"
        ttl_ms = int(LEASE_SECONDS * 1000)
        if not client.set(key, token, nx=True, px=ttl_ms):
            raise DocumentBusy(document_id)
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(LEASE_SECONDS / 4):
                with contextlib.suppress(Exception):
                    client.eval(_RENEW, 1, key, token, ttl_ms)

        renewer = threading.Thread(target=renew, name="medupload-lease", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(timeout=2)
            with contextlib.suppress(Exception):
                client.eval(_RELEASE, 1, key, token)
    finally:
        with _local_lock:
            _local_leases.discard(document_id)


_owner: tuple[int, str] | None = None


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces and parentheses, so count from its end.
    return stat.rsplit(")", 1)[1].split()[19]


def owner_id() -> str:
    """This process as an owner: ``host:pid:start`` (a random nonce where /proc is missing)."""
    global _owner
    pid = os.getpid()
    if _owner is None or _owner[0] != pid:  # recomputed after a fork (Dramatiq's worker processes)
        _owner = (pid, f"{socket.gethostname()}:{pid}:{_start_time(pid) or secrets.token_hex(6)}")
    return _owner[1]


def owner_alive(owner: str) -> bool | None:
    """Whether the owning process still runs: True, False, or None when it cannot be told here
    (another host: that host's own start-up, or the watchdog, recovers its documents)."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid():
        return owner == owner_id()
    now = _start_time(pid)
    if now is not None:
        return now == start
    if Path("/proc/self").is_dir():
        return False  # /proc works and has no such process
    return pid_exists(pid)


def is_held(document_id: str) -> bool:
    """Whether a run holds the lease (here, or in queue mode anywhere); True when unsure."""
    with _local_lock:
        if document_id in _local_leases:
            return True
    if get_settings().pipeline_mode != "queue":
        return False
    try:
        return bool(sync_redis().exists(lease_key(document_id)))
    except Exception:
        return True  # cannot tell: leave it for the next round
