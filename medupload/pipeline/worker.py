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
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.middleware.time_limit import TimeLimitExceeded

from medupload.settings import get_settings

log = logging.getLogger(__name__)

QUEUE_NAME = "documents"
MAX_RETRIES = 3
#: A worker silent this long is dead. Live workers poll Redis at least every second (the
#: delay-queue consumer keeps polling even while all threads are busy), so 15 s is safe.
HEARTBEAT_TIMEOUT_MS = 15_000
#: Out of 1,000,000 Redis calls; 1 in 5 runs maintenance. It is a few cheap commands except
#: when a dead worker is found (then a KEYS over the namespace, once).
MAINTENANCE_CHANCE = 200_000
WATCHDOG_INTERVAL_S = 60.0


def namespace() -> str:
    """Dramatiq's key namespace: the app prefix plus ``dramatiq`` (``t1a2b3c4:dramatiq``)."""
    return f"{get_settings().redis_key('')}dramatiq"


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
        from medupload.pipeline.runner import start_watchdog

        self._stop = threading.Event()
        start_watchdog(WATCHDOG_INTERVAL_S, self._stop)

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()


def make_broker() -> RedisBroker:
    settings = get_settings()
    middleware = [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=MAX_RETRIES, min_backoff=2_000, max_backoff=60_000),
        CurrentMessage(),
        _WorkerTuning(),
    ]
    return RedisBroker(
        url=settings.redis_url,
        namespace=namespace(),
        middleware=middleware,
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=MAINTENANCE_CHANCE,
    )


broker = make_broker()
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE_NAME, max_retries=MAX_RETRIES, time_limit=time_limit_ms())
def process_document_job(document_id: str) -> None:
    from medupload.pipeline import runner

    message = CurrentMessage.get_current_message()
    retries = int(message.options.get("retries", 0)) if message is not None else MAX_RETRIES
    try:
        # Not the final attempt: an unexpected error propagates and Dramatiq retries with
        # backoff; coded failures end the document as failed either way.
        runner.process_document(document_id, final_attempt=retries >= MAX_RETRIES)
    except TimeLimitExceeded:
        runner.fail_current(document_id, "error.time_limit")
    except runner.DocumentBusy:
        # Another run holds the lease (a re-delivery racing a still-live run, or a lease of a
        # killed worker not yet lapsed): try again shortly.
        raise dramatiq.Retry(delay=5_000) from None


def enqueue(document_id: str) -> None:
    process_document_job.send(document_id)


def run_workers(processes: int = 1, threads: int = 2, extra_args: Sequence[str] = ()) -> int:
    """Run worker processes in the foreground (``python -m medupload worker``); returns the exit code."""
    from dramatiq.cli import main, make_argument_parser

    argv = [__name__, "--processes", str(processes), "--threads", str(threads), *extra_args]
    return int(main(make_argument_parser().parse_args(argv)) or 0)
