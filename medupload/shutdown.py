"""Graceful stop of one server process: SIGTERM drains it, so its clients move to another.

Granian stops a worker on SIGTERM by no longer accepting and then waiting for every open
connection to end — and SSE streams and Reflex websockets do not end by themselves. So each
worker chains its own handler in front of Granian's (``install()``, from the app's lifespan):
on SIGTERM it closes the progress hub, which ends every follow loop (each SSE stream sends a
jittered ``retry`` and closes; EventSource reconnects with Last-Event-ID to a process still
accepting on the same port), and disconnects the tabs' sockets (Reflex reconnects them and
re-runs the page's load there). Inline pipeline runs in the thread pool finish before the
interpreter exits; if the kill timeout cuts one short, its lease expires and the watchdog
re-queues the document.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from medupload.progress.hub import current_hub
from medupload.ui.reflex_compat import disconnect_all_clients

log = logging.getLogger(__name__)

_draining = False


def draining() -> bool:
    return _draining


def install(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Drain on SIGTERM/SIGINT, then let the previous handler (Granian's) stop the worker."""
    loop = loop or asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        signal.signal(signum, _chained(loop, previous))


def _chained(loop: asyncio.AbstractEventLoop, previous: Any) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(lambda: loop.create_task(drain(), name="drain"))
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL and signum == signal.SIGTERM:
            raise SystemExit(0)

    return handler


async def drain() -> None:
    """End every stream and tab of this process (idempotent)."""
    global _draining
    if _draining:
        return
    _draining = True
    hub = current_hub()
    subscribers = hub.subscriber_count if hub is not None else 0
    if hub is not None:
        await hub.close()
    tabs = 0
    try:
        tabs = await disconnect_all_clients()
    except Exception as exc:  # a socket already gone must not stop the drain
        log.warning("drain: closing tab sockets failed (%s)", type(exc).__name__)
    log.info("draining: ended %d subscriptions, closed %d tab sockets", subscribers, tabs)
