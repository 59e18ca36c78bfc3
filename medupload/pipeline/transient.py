"""Transient faults: a locked or briefly unreachable database, a Redis blip. They say nothing
about the document, so they never fail it: the write is tried again after a short pause, and
if the fault persists the run raises ``TransientFault`` for the queue (or the watchdog) to run
it again later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

#: Pauses between tries: three tries in all, about 1.5 s, before the run gives way.
BACKOFF_S: tuple[float, ...] = (0.3, 1.2)

P = ParamSpec("P")
T = TypeVar("T")


class TransientFault(Exception):
    """A transient fault outlasted the retries; the run should be repeated later, not failed."""


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientFault | OperationalError | RedisConnectionError | RedisTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def retrying(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``, tried again after each pause of ``BACKOFF_S`` while it fails
    transiently; raises TransientFault when every try did. Other errors pass through at once."""
    for pause in (*BACKOFF_S, None):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not is_transient(exc) or isinstance(exc, TransientFault):
                raise
            # Type name only: a driver's message can quote the statement's parameters (PHI).
            if pause is None:
                raise TransientFault(type(exc).__name__) from None
            log.warning("transient %s; trying again in %.1f s", type(exc).__name__, pause)
            time.sleep(pause)
    raise AssertionError("unreachable")
