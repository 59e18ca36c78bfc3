"""Live pages ask "is this tab still signed in as the same user?" every tick: the guard notes the
answer on this process as it decides it, so the question reads neither Redis nor the tab's state
(which several server processes keep in Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from support import make_patient, make_user

from medupload import sessions
from medupload.auth import create_access_token, decode_access_token
from medupload.redis_client import async_redis


@pytest.fixture
def tab(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A tab's AuthState as the guard sees it (client token ``tab-1``); ``tab.reads`` counts
    ``async with self`` (in a background task: a state read, from Redis with several processes)."""
    from reflex.istate.data import RouterData
    from reflex.state import State

    import medupload.medupload  # noqa: F401  (registers the pages)
    from medupload.ui.state import auth

    sessions.forget_cached()
    auth._tab_users.clear()
    root = State(_reflex_internal_init=True)  # type: ignore[call-arg]
    router_data = {"pathname": "/patient", "query": {}, "asPath": "/patient", "headers": {}, "token": "tab-1"}
    root.router_data = router_data
    root.router = RouterData.from_router_data(router_data)
    state = root.get_substate(auth.AuthState.get_full_name().split(".")[1:])
    reads: list[int] = []
    enter = type(state).__aenter__

    async def counted(self: Any) -> Any:
        reads.append(1)
        return await enter(self)

    monkeypatch.setattr(type(state), "__aenter__", counted)
    state.__dict__["reads"] = reads
    yield state
    auth._tab_users.clear()
    sessions.forget_cached()


def _token() -> str:
    return create_access_token(make_user("patient", make_patient()))[0]


def test_the_tab_s_user_is_noted_as_the_guard_decides_it(tab: Any) -> None:
    first, second = _token(), _token()
    alice, bob = decode_access_token(first), decode_access_token(second)

    asyncio.run(tab._reauthorise(True, first))  # the handshake's cookie: alice
    assert asyncio.run(tab.still_signed_in(alice, "tab-1"))
    assert not asyncio.run(tab.still_signed_in(bob, "tab-1"))

    asyncio.run(tab._reauthorise(True, second))  # another sign-in in the same browser: bob
    assert not asyncio.run(tab.still_signed_in(alice, "tab-1"))  # alice's page loop must end
    assert asyncio.run(tab.still_signed_in(bob, "tab-1"))

    asyncio.run(tab._reauthorise(True, None))  # the cookie is gone
    assert not asyncio.run(tab.still_signed_in(bob, "tab-1"))
    assert tab.reads == []  # every answer came from the guard's notes


def test_a_tab_not_noted_here_reads_its_state_once(tab: Any) -> None:
    """After a restart (or when the notes were pruned) the state decides, once."""
    from medupload.ui.state import auth

    token = _token()
    principal = decode_access_token(token)
    asyncio.run(tab._reauthorise(True, token))
    auth._tab_users.clear()
    for _ in range(3):
        assert asyncio.run(tab.still_signed_in(principal, "tab-1"))
    assert len(tab.reads) == 1


def test_a_revoked_token_ends_the_loop_even_for_the_same_user(tab: Any) -> None:
    token = _token()
    principal = decode_access_token(token)
    asyncio.run(tab._reauthorise(True, token))
    assert asyncio.run(tab.still_signed_in(principal, "tab-1"))

    async def sign_out() -> None:
        await sessions.revoke_token(async_redis(), principal)

    asyncio.run(sign_out())
    assert not asyncio.run(tab.still_signed_in(principal, "tab-1"))

