"""Revocation that holds across processes: a denylist entry per signed-out token, and a
per-user epoch ("tokens of U issued before T are void") set when an account is disabled.

Both live in Redis, so a sign-out or ``user disable`` in one process is seen by every other.
``principal_active()`` is the one question the rest of the code asks — REST dependencies on
every request, the SSE stream and the UI's live loops on every tick.

Each revocation is also PUBLISHed (in the same transaction as its key) on a channel the progress
hub's one pub/sub connection listens to, and every process keeps what it heard in memory. While
the running loop's hub is connected, a principal Redis said was active since that connection
began stays active until a notice says otherwise: an idle stream or page asks Redis nothing.
After a reconnection a notice may have been missed, so each principal is read from Redis once
more. Without a connected hub (a process that follows nothing, or Redis down) answers come from
Redis, cached for at most ``revocation_cache_seconds``; while Redis is unreachable the database's
``users.disabled`` decides (a disabled account stays refused; a single signed-out token waits for
Redis or its expiry).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlmodel import Session

from medupload.auth import Principal
from medupload.db import get_engine
from medupload.models import User
from medupload.progress.hub import current_hub, on_notice
from medupload.redis_client import async_redis
from medupload.settings import get_settings

log = logging.getLogger(__name__)

#: The channel (prefixed) revocations are PUBLISHed on; the hub hands its messages to _heard.
REVOCATIONS_CHANNEL = "auth:revocations"

# Without a live notice feed: (token id, user id) -> (monotonic time of the answer, active?)
_answers: dict[tuple[str, str], tuple[float, bool]] = {}
# With one: (token id, user id) -> the hub generation in which Redis said it was active.
_verified: dict[tuple[str, str], int] = {}
# What the notices said: token id -> when it would have expired; user id -> revocation epoch.
_revoked: dict[str, float] = {}
_epochs: dict[str, float] = {}
_MAX_CACHED = 50_000


def _revoked_key(token_id: str) -> str:
    return get_settings().redis_key(f"auth:revoked:{token_id}")


def _epoch_key(user_id: str) -> str:
    return get_settings().redis_key(f"auth:user_epoch:{user_id}")


async def revoke_token(client: aioredis.Redis, principal: Principal) -> None:
    """Deny this one token from now on; the entry expires when the token would have."""
    if not principal.token_id:
        return
    remaining = max(1, int(principal.expires_at - time.time()) + 1)
    # Key first, notice second, in one transaction: a process that hears the notice and one that
    # reads Redis afterwards agree.
    async with client.pipeline(transaction=True) as pipe:
        pipe.set(_revoked_key(principal.token_id), "1", ex=remaining)
        pipe.publish(_channel(), _notice(token_id=principal.token_id, expires_at=principal.expires_at))
        await pipe.execute()
    _remember_token(principal.token_id, principal.expires_at)
    _answers.pop((principal.token_id, principal.user_id), None)


def revoke_user_tokens(client: redis.Redis, user_id: str, at: float | None = None) -> float:
    """Void every token of ``user_id`` issued up to now (sync: the CLI calls it). The epoch is
    kept as long as the longest-lived token, so re-enabling the account revives none of them."""
    epoch = time.time() if at is None else at
    with client.pipeline(transaction=True) as pipe:
        pipe.set(_epoch_key(user_id), repr(epoch), ex=get_settings().token_ttl_seconds + 60)
        pipe.publish(_channel(), _notice(user_id=user_id, epoch=epoch))
        pipe.execute()
    _remember_epoch(user_id, epoch)
    return epoch


async def principal_active(principal: Principal) -> bool:
    """Is this principal's token still good: not signed out, its user not disabled since it
    was issued? Cheap enough to call on every request and every stream tick (see the module
    docstring: from memory while the hub hears revocations)."""
    key = (principal.token_id or "", principal.user_id)
    hub = current_hub()
    generation = hub.generation if hub is not None and hub.hears(REVOCATIONS_CHANNEL) else 0
    if generation:
        if _heard_revoked(principal):
            return False
        if _verified.get(key) == generation:
            return True
        # First question since the feed (re)connected: a notice may have been missed before it.
        active, from_redis = await _ask(principal)
        if active and from_redis and hub is not None and hub.connected and hub.generation == generation:
            if len(_verified) >= _MAX_CACHED:
                _verified.clear()
            _verified[key] = generation
        return active and not _heard_revoked(principal)
    now = time.monotonic()
    cached = _answers.get(key)
    if cached is not None and now - cached[0] < get_settings().revocation_cache_seconds:
        return cached[1]
    active, _ = await _ask(principal)
    if len(_answers) >= _MAX_CACHED:
        _answers.clear()
    _answers[key] = (now, active)
    return active


async def _ask(principal: Principal) -> tuple[bool, bool]:
    """(active?, answered by Redis?)"""
    # A principal without a token id (decode_access_token refuses such tokens, so only one built
    # in-process) can only be revoked with its user.
    keys = [_epoch_key(principal.user_id)]
    if principal.token_id:
        keys.append(_revoked_key(principal.token_id))
    try:
        epoch, *revoked = await async_redis().mget(keys)
    except (RedisError, OSError) as exc:
        log.warning("revocation check: Redis unavailable (%s); checking the account in the database",
                    type(exc).__name__)
        return not await asyncio.to_thread(_disabled_in_db, principal.user_id), False
    if any(value is not None for value in revoked):
        return False, True
    return epoch is None or principal.issued_at > float(epoch), True


# -- the notice feed ----------------------------------------------------------------------------

def _channel() -> str:
    return get_settings().redis_key(REVOCATIONS_CHANNEL)


def _notice(**fields: str | float) -> str:
    return json.dumps(fields, separators=(",", ":"))


def _heard(payload: str) -> None:
    """A revocation notice from the hub's listener (never raises: it runs in the listener)."""
    try:
        notice = json.loads(payload)
        if "token_id" in notice:
            _remember_token(str(notice["token_id"]), float(notice["expires_at"]))
        elif "user_id" in notice:
            _remember_epoch(str(notice["user_id"]), float(notice["epoch"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("revocation notice: malformed payload ignored")


def _heard_revoked(principal: Principal) -> bool:
    if principal.token_id and principal.token_id in _revoked:
        return True
    epoch = _epochs.get(principal.user_id)
    return epoch is not None and principal.issued_at <= epoch


def _remember_token(token_id: str, expires_at: float) -> None:
    if len(_revoked) >= _MAX_CACHED:
        _prune()
    _revoked[token_id] = expires_at


def _remember_epoch(user_id: str, epoch: float) -> None:
    if len(_epochs) >= _MAX_CACHED:
        _prune()
    _epochs[user_id] = max(epoch, _epochs.get(user_id, 0.0))


def _prune() -> None:
    """Forget what can no longer matter: tokens past their expiry, epochs older than any token.
    If that is not enough, forget everything heard and every verification with it (principals
    are then read from Redis once more), never just the revocations."""
    now = time.time()
    for token_id in [t for t, expires in _revoked.items() if expires < now]:
        del _revoked[token_id]
    oldest_token = now - get_settings().token_ttl_seconds
    for user_id in [u for u, epoch in _epochs.items() if epoch < oldest_token]:
        del _epochs[user_id]
    if len(_revoked) >= _MAX_CACHED or len(_epochs) >= _MAX_CACHED:
        _revoked.clear()
        _epochs.clear()
        _verified.clear()


on_notice(REVOCATIONS_CHANNEL, _heard)


def _disabled_in_db(user_id: str) -> bool:
    with Session(get_engine()) as session:
        user = session.get(User, user_id)
        return user is None or user.disabled


def forget_cached() -> None:
    """Drop every cached answer and everything heard (tests, and after a settings change)."""
    _answers.clear()
    _verified.clear()
    _revoked.clear()
    _epochs.clear()
