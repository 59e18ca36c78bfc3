"""Where a run happens: a bounded thread pool in this process (inline), or a Dramatiq message
(``PIPELINE_MODE=queue``). One setting, the same ``process_document`` below either way.

The queue message is sent by actor name through a broker made here, so nothing imports
``worker.py`` (which declares the actor and adds the worker-only middleware). What to run
inline is passed in by the caller (``runner.confirm_upload``), so this module does not
import the runner either.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from medupload.settings import get_settings

QUEUE_NAME = "documents"
ACTOR_NAME = "process_document_job"
MAX_RETRIES = 3
#: A worker silent this long is dead. Live workers poll Redis at least every second (the
#: delay-queue consumer keeps polling even while all threads are busy), so 15 s is safe.
HEARTBEAT_TIMEOUT_MS = 15_000
#: Out of 1,000,000 Redis calls; 1 in 5 runs maintenance. It is a few cheap commands except
#: when a dead worker is found (then a KEYS over the namespace, once).
MAINTENANCE_CHANCE = 200_000


def namespace() -> str:
    """Dramatiq's key namespace: the app prefix plus ``dramatiq`` (``t1a2b3c4:dramatiq``)."""
    return f"{get_settings().redis_key('')}dramatiq"


def make_broker() -> RedisBroker:
    """The broker as workers and senders share it (same URL, namespace and heartbeat rules)."""
    settings = get_settings()
    middleware = [
        AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(),
        Retries(max_retries=MAX_RETRIES, min_backoff=2_000, max_backoff=60_000),
        CurrentMessage(),
    ]
    return RedisBroker(
        url=settings.redis_url, namespace=namespace(), middleware=middleware,
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS, maintenance_chance=MAINTENANCE_CHANCE,
    )


_sender: tuple[tuple[str, str], RedisBroker] | None = None
_sender_lock = threading.Lock()


def _sending_broker() -> RedisBroker:
    # Rebuilt when the URL or namespace changes (tests switch prefixes between runs).
    global _sender
    wanted = (get_settings().redis_url, namespace())
    with _sender_lock:
        if _sender is None or _sender[0] != wanted:
            _sender = (wanted, make_broker())
        return _sender[1]


def enqueue(document_id: str) -> None:
    """Send one ``process_document_job`` message by name (queue mode)."""
    message: dramatiq.Message[None] = dramatiq.Message(
        queue_name=QUEUE_NAME, actor_name=ACTOR_NAME, args=(document_id,), kwargs={}, options={},
    )
    _sending_broker().enqueue(message)


# --------------------------------------------------------------------------- inline pool

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_inline_futures: dict[str, Future[str]] = {}


def _inline_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=get_settings().inline_workers,
                                           thread_name_prefix="medupload-pipeline")
        return _executor


def start(document_id: str, process_inline: Callable[[str], str]) -> None:
    """Queue mode: a message to the worker. Inline: ``process_inline(document_id)`` in the pool,
    unless this process already has it queued or running."""
    if get_settings().pipeline_mode == "queue":
        enqueue(document_id)
        return
    with _executor_lock:
        running = _inline_futures.get(document_id)
        if running is not None and not running.done():
            return
    future = _inline_executor().submit(process_inline, document_id)
    with _executor_lock:
        _inline_futures[document_id] = future
    future.add_done_callback(lambda _f: _forget_future(document_id, future))


def _forget_future(document_id: str, future: Future[str]) -> None:
    with _executor_lock:
        if _inline_futures.get(document_id) is future:
            del _inline_futures[document_id]


def wait_inline(document_id: str, timeout: float | None = None) -> str | None:
    """Block until the inline run of a document ends (tests, CLI); None if none is running."""
    with _executor_lock:
        future = _inline_futures.get(document_id)
    return None if future is None else future.result(timeout=timeout)


def shutdown_inline(wait: bool = True) -> None:
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=wait)
