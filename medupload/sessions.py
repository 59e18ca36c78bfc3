"""Revocation that holds across processes: a denylist entry per signed-out token, and a
per-user epoch ("tokens of U issued before T are void") set when an account is disabled.

Both live in Redis, so a sign-out or ``user disable`` in one process is seen by every other.
``principal_active()`` is the one question the rest of the code asks — REST dependencies on
every request, the SSE stream and the UI's live loops on every check. Answers are cached in
the process for at most ``revocation_cache_seconds`` so a busy tab costs one GET per second,
not one per event. While Redis is unreachable the database's ``users.disabled`` decides
(a disabled account stays refused; a single signed-out token waits for Redis or its expiry).
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlmodel import Session

from medupload.auth import Principal
from medupload.db import get_engine
from medupload.models import User
from medupload.redis_client import async_redis
from medupload.settings import get_settings

log = logging.getLogger(__name__)

# (token id, user id) -> (monotonic time of the answer, active?)
_answers: dict[tuple[str, str], tuple[float, bool]] = {}
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
    await client.set(_revoked_key(principal.token_id), "1", ex=remaining)
    _answers.pop((principal.token_id, principal.user_id), None)


def revoke_user_tokens(client: redis.Redis, user_id: str, at: float | None = None) -> float:
    """Void every token of ``user_id`` issued up to now (sync: the CLI calls it). The epoch is
    kept as long as the longest-lived token, so re-enabling the account revives none of them."""
    epoch = time.time() if at is None else at
    client.set(_epoch_key(user_id), repr(epoch), ex=get_settings().token_ttl_seconds + 60)
    return epoch


async def principal_active(principal: Principal) -> bool:
    """Is this principal's token still good: not signed out, its user not disabled since it
    was issued? Cheap enough to call on every request and every stream heartbeat."""
    key = (principal.token_id or "", principal.user_id)
    now = time.monotonic()
    cached = _answers.get(key)
    if cached is not None and now - cached[0] < get_settings().revocation_cache_seconds:
        return cached[1]
    active = await _ask(principal)
    if len(_answers) >= _MAX_CACHED:
        _answers.clear()
    _answers[key] = (now, active)
    return active


async def _ask(principal: Principal) -> bool:
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
        return not await asyncio.to_thread(_disabled_in_db, principal.user_id)
    if any(value is not None for value in revoked):
        return False
    return epoch is None or principal.issued_at > float(epoch)


def _disabled_in_db(user_id: str) -> bool:
    with Session(get_engine()) as session:
        user = session.get(User, user_id)
        return user is None or user.disabled


def forget_cached() -> None:
    """Drop every cached answer (tests, and after a settings change)."""
    _answers.clear()
