"""Sign-in throttling: per account and per client address, moving window, in Redis (``limits``).

Every attempt counts (checked before the password, so a throttled guess costs no argon2 time
and tells nothing). Throttled attempts are not recorded, so the cool-down never grows past one
window however hard someone keeps trying; a correct password clears the account's window.
Unknown usernames are counted exactly like real ones, so the answers and timing are the same.
If Redis is unreachable the limits are kept in this process's memory instead, never dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import time
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from sqlmodel import Session

from medupload.auth import AuthError, authenticate
from medupload.metrics import LOGIN_THROTTLED
from medupload.models import User
from medupload.settings import get_settings

log = logging.getLogger(__name__)


class Throttled(AuthError):
    """Too many attempts: ``retry_after`` whole seconds until the next one is counted."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("auth.throttled")
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Limits:
    redis: MovingWindowRateLimiter
    memory: MovingWindowRateLimiter
    account: RateLimitItem
    address: RateLimitItem


@lru_cache
def _limits() -> _Limits:
    settings = get_settings()
    uri = settings.redis_url.replace("unix://", "redis+unix://", 1)
    storage = RedisStorage(uri, key_prefix=settings.redis_key("signin"), wrap_exceptions=True,
                           socket_timeout=2.0, socket_connect_timeout=2.0)
    window = settings.signin_window_seconds
    return _Limits(
        redis=MovingWindowRateLimiter(storage),
        memory=MovingWindowRateLimiter(MemoryStorage()),
        account=RateLimitItemPerSecond(settings.signin_account_attempts, window, namespace="account"),
        address=RateLimitItemPerSecond(settings.signin_address_attempts, window, namespace="address"),
    )


def _account_id(username: str) -> str:
    # Usernames can be people's names: Redis keys carry a digest, never the name.
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _hit(limiter: MovingWindowRateLimiter, item: RateLimitItem, identifier: str) -> int | None:
    """Count one attempt; None if allowed, else the seconds until the oldest one leaves the window."""
    if limiter.hit(item, identifier):
        return None
    reset_at = limiter.get_window_stats(item, identifier).reset_time
    return max(1, math.ceil(reset_at - time.time()))


def check_attempt(username: str, address: str) -> None:
    """Count a sign-in attempt for ``username`` from ``address``; raise Throttled past a limit."""
    limits = _limits()
    try:
        _count(limits.redis, limits, username, address)
    except StorageError as exc:
        log.warning("sign-in throttle: Redis unavailable (%s); counting in this process",
                    type(exc.storage_error).__name__)
        _count(limits.memory, limits, username, address)


def _count(limiter: MovingWindowRateLimiter, limits: _Limits, username: str, address: str) -> None:
    # The address first: a throttled address spends nothing of the account's allowance.
    for item, identifier in ((limits.address, address), (limits.account, _account_id(username))):
        retry_after = _hit(limiter, item, identifier)
        if retry_after is not None:
            LOGIN_THROTTLED.inc()
            raise Throttled(retry_after)


def _clear_account(username: str) -> None:
    limits = _limits()
    with contextlib.suppress(StorageError):
        limits.redis.clear(limits.account, _account_id(username))
    limits.memory.clear(limits.account, _account_id(username))


def sign_in(session: Session, username: str, password: str, address: str) -> User:
    """The one sign-in path (REST token, browser session): throttle, then verify the password.
    Raises Throttled (429) or AuthError("auth.invalid") alike for known and unknown users."""
    check_attempt(username, address)
    user = authenticate(session, username, password)
    _clear_account(username)
    return user


def reset() -> None:
    """Forget the configured limiters (tests change the settings)."""
    _limits.cache_clear()
