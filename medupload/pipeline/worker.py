"""Queue mode: the Dramatiq broker and the one actor, ``process_document_job``.

Run with ``python -m medupload worker --processes 2 --threads 1`` (or
``python -m dramatiq medupload.pipeline.worker``). The broker's Redis namespace is derived from
``MEDUPLOAD_REDIS_PREFIX`` so test runs and deployments sharing a Redis never see each other's
messages.

Delivery after a crash: every Redis call of a worker refreshes its heartbeat; when a worker is
kill -9'ed its heartbeat stops, and after ``HEARTBEAT_TIMEOUT_MS`` the next queue maintenance
(run by a surviving worker on ``MAINTENANCE_CHANCE`` of its calls, about one a second while
idle) puts the dead worker's unacknowledged messages back on the queue. The runner's
per-document lease and idempotent writes make the second run safe.

Nothing imports this module: senders reach the actor by name (``pipeline.dispatch``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage, Middleware
from dramatiq.middleware.time_limit import TimeLimitExceeded

from medupload.pipeline import recovery, runner
from medupload.pipeline.dispatch import ACTOR_NAME, MAX_RETRIES, QUEUE_NAME, make_broker
from medupload.pipeline.lease import DocumentBusy
from medupload.settings import get_settings

log = logging.getLogger(__name__)

WATCHDOG_INTERVAL_S = 60.0


def time_limit_ms() -> int:
    # The runner enforces the document limit itself between pages; this hard limit only
    # catches a run stuck inside one call, so it must not fire first.
    settings = get_settings()
    return int((settings.document_time_limit_seconds + settings.ocr_page_timeout_seconds + 30) * 1000)


#: How long an idle consumer sleeps at most between polls (Dramatiq's default is 1 s). With
#: one message per thread, a worker fetches its next document only after finishing one, so
#: this bounds the idle gap between documents.
POLL_MS = 200


class _WorkerTuning(Middleware):
    """Prefetch one message per thread (not Dramatiq's two): a long OCR job must not hold a second
    document hostage while another worker idles; poll faster; start the stuck-document watchdog."""

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        worker.queue_prefetch = worker.worker_threads
        worker.worker_timeout = POLL_MS

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._stop = threading.Event()
        recovery.start_watchdog(WATCHDOG_INTERVAL_S, self._stop)

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()


broker = make_broker()
broker.add_middleware(_WorkerTuning())
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name=ACTOR_NAME, queue_name=QUEUE_NAME, max_retries=MAX_RETRIES,
                time_limit=time_limit_ms())
def process_document_job(document_id: str) -> None:
    message = CurrentMessage.get_current_message()
    retries = int(message.options.get("retries", 0)) if message is not None else MAX_RETRIES
    try:
        # Not the final attempt: an unexpected error propagates and Dramatiq retries with
        # backoff; coded failures end the document as failed either way.
        runner.process_document(document_id, final_attempt=retries >= MAX_RETRIES)
    except TimeLimitExceeded:
        runner.fail_current(document_id, "error.time_limit")
    except DocumentBusy:
        # Another run holds the lease (a re-delivery racing a still-live run, or a lease of a
        # killed worker not yet lapsed): try again shortly.
        raise dramatiq.Retry(delay=5_000) from None


def run_workers(processes: int = 1, threads: int = 2, extra_args: Sequence[str] = ()) -> int:
    """Run worker processes in the foreground (``python -m medupload worker``); returns the exit code."""
    from dramatiq.cli import main, make_argument_parser

    argv = [__name__, "--processes", str(processes), "--threads", str(threads), *extra_args]
    return int(main(make_argument_parser().parse_args(argv)) or 0)
