"""The Reflex internals ``ui.reflex_compat`` relies on: fails when Reflex changes them."""

from __future__ import annotations

import inspect

from reflex.app import App, EventNamespace
from reflex.utils.token_manager import TokenManager
from reflex_base.registry import RegistrationContext

from medupload.ui import reflex_compat


def test_the_private_path_is_still_there() -> None:
    # RegistrationContext.get().app.event_namespace._token_manager.is_token_connected(token)
    assert callable(RegistrationContext.get)
    assert isinstance(inspect.getattr_static(App, "event_namespace"), property)
    assert "_token_manager" in inspect.getsource(EventNamespace.__init__)
    assert inspect.iscoroutinefunction(TokenManager.is_token_connected)
    assert list(inspect.signature(TokenManager.is_token_connected).parameters) == ["self", "token"]


def test_the_transport_close_path_is_still_there() -> None:
    # disconnect_all_clients: namespace.server.manager.eio_sid_from_sid(sid, namespace.namespace),
    # then namespace.server.eio.disconnect(eio_sid) (a closed transport: the browser reconnects).
    from engineio.async_server import AsyncServer as EngineServer
    from socketio.async_manager import AsyncManager
    from socketio.async_namespace import AsyncNamespace

    assert issubclass(EventNamespace, AsyncNamespace)
    assert list(inspect.signature(AsyncManager.eio_sid_from_sid).parameters) == ["self", "sid", "namespace"]
    assert inspect.iscoroutinefunction(EngineServer.disconnect)
    assert isinstance(inspect.getattr_static(EventNamespace, "sid_to_token"), property)


async def test_token_manager_answers_for_connected_and_unknown_tokens() -> None:
    manager = TokenManager.create()  # the local (no Redis URL) manager, as in the embedded set-up
    sid = "sid-1"
    await manager.link_token_to_sid("tab-1", sid)
    assert await manager.is_token_connected("tab-1") is True
    assert await manager.is_token_connected("tab-2") is False
    await manager.disconnect_token("tab-1", sid)
    assert await manager.is_token_connected("tab-1") is False


async def test_a_tab_is_here_while_this_process_holds_its_socket() -> None:
    manager = TokenManager.create()
    await manager.link_token_to_sid("tab-1", "sid-1")
    assert reflex_compat.client_on(manager, "tab-1") is True
    assert reflex_compat.client_on(manager, "tab-2") is False
    # A record of another instance (the Redis manager caches those) is not here.
    manager.token_to_socket["tab-3"] = type(manager.token_to_socket["tab-1"])(instance_id="elsewhere",
                                                                             sid="sid-3")
    assert reflex_compat.client_on(manager, "tab-3") is False
    await manager.disconnect_token("tab-1", "sid-1")
    assert reflex_compat.client_on(manager, "tab-1") is False


async def test_outside_a_running_app_a_tab_counts_as_here() -> None:
    assert await reflex_compat.is_client_here("any-token") is True


def test_reflex_builds_granian_from_the_module_attribute_and_reads_granian_workers() -> None:
    from reflex.utils import exec as reflex_exec

    source = inspect.getsource(reflex_exec.run_granian_backend_prod)
    assert "from granian.server import Server" in source  # looked up at call time: our class is used
    assert 'os.getenv("GRANIAN_WORKERS"' in source
    assert list(inspect.signature(reflex_exec.run_granian_backend_prod).parameters)[:3] == [
        "host", "port", "loglevel"]


def test_configure_granian_fills_in_our_options() -> None:
    import granian.server

    original = granian.server.Server
    try:
        reflex_compat.configure_granian(backpressure=777, backlog=2048, respawn_failed_workers=True,
                                        workers_kill_timeout=9)
        server = granian.server.Server(target="medupload.medupload:app", workers=2)
        got = (server.backpressure, server.backlog, server.respawn_failed_workers,
               server.workers_kill_timeout, server.workers)
        assert got == (777, 2048, True, 9, 2)
    finally:
        granian.server.Server = original
