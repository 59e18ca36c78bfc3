"""Recovering documents a dead process left in the pipeline: at start-up at once when the owner
is known dead (``recover_orphans``), and by a watchdog for what stays silent too long
(``recover_stuck``). Either re-queues the document, or fails it with ``error.interrupted`` once
it has been tried ``runner.MAX_ATTEMPTS`` times (something in it keeps killing its reader).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from medupload.db import session_scope
from medupload.models import Document
from medupload.pipeline.lease import is_held, owner_alive, owner_id
from medupload.pipeline.runner import MAX_ATTEMPTS, confirm_upload, fail_current
from medupload.progress.stages import IN_FLIGHT_STATUSES
from medupload.settings import get_settings

log = logging.getLogger(__name__)


def default_stuck_after() -> float:
    """Longer than any live run goes without an event (page timeout < document time limit)."""
    return get_settings().document_time_limit_seconds + 60.0


def recover_stuck(older_than_s: float | None = None) -> list[str]:
    """Re-queue documents left in received/processing by a dead process, or fail them with
    error.interrupted after MAX_ATTEMPTS. Returns the ids acted on."""
    older_than_s = default_stuck_after() if older_than_s is None else older_than_s
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    with session_scope() as session:
        stuck = session.exec(select(Document).where(
            col(Document.status).in_(tuple(IN_FLIGHT_STATUSES)), col(Document.updated_at) < cutoff,
        )).all()
    # Touching it first makes a concurrent watchdog (another worker) skip it.
    return [document.id for document in stuck if not is_held(document.id) and _take(
        document, "stuck", col(Document.updated_at) < cutoff, updated_at=datetime.now(UTC))]


def recover_orphans() -> list[str]:
    """At start-up: re-queue at once the documents whose owning process is dead (crashed, killed,
    restarted), or fail them with error.interrupted after MAX_ATTEMPTS. Owners on other hosts,
    and documents without one (waiting in the durable queue), are left to the watchdog.
    Returns the ids acted on."""
    with session_scope() as session:
        owned = session.exec(select(Document).where(
            col(Document.status).in_(tuple(IN_FLIGHT_STATUSES)), col(Document.owner).is_not(None),
            col(Document.owner) != owner_id(),
        )).all()
    # Claiming it from the dead owner makes one of several processes starting at once act.
    return [document.id for document in owned
            if document.owner is not None and owner_alive(document.owner) is False
            and not is_held(document.id)
            and _take(document, "left by a dead process", col(Document.owner) == document.owner,
                      owner=None, updated_at=datetime.now(UTC))]


def _take(document: Document, why: str, unchanged: Any, **claim: Any) -> bool:
    """Claim the document (an UPDATE that only matches while ``unchanged`` holds), then re-queue
    it, or fail it once it has had MAX_ATTEMPTS. False if another process claimed it first."""
    with session_scope() as session:
        claimed = session.execute(
            update(Document).where(col(Document.id) == document.id, unchanged).values(**claim)).rowcount
    if not claimed:
        return False
    if document.attempts >= MAX_ATTEMPTS:
        fail_current(document.id, "error.interrupted")
    else:
        log.info("document %s %s in %s; re-queued", document.id, why, document.status)
        confirm_upload(document.id)
    return True


def start_watchdog(interval_s: float = 60.0, stop: threading.Event | None = None) -> threading.Thread:
    """Recover a dead process's documents at once, then run recover_stuck every interval, in a
    daemon thread (web process start-up, workers)."""
    stop = stop or threading.Event()

    def loop() -> None:
        try:
            recover_orphans()
        except Exception as exc:
            log.warning("start-up recovery failed (%s)", type(exc).__name__)
        while True:
            try:
                recover_stuck()
            except Exception as exc:
                log.warning("watchdog round failed (%s)", type(exc).__name__)
            if stop.wait(interval_s):
                return

    thread = threading.Thread(target=loop, name="medupload-watchdog", daemon=True)
    thread.start()
    return thread

