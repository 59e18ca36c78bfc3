"""The one place that reaches into Reflex (and the Granian it runs) beyond their public API.

- ``is_client_here(token)``: the app's Socket.IO namespace's token manager says whether the tab
  behind a client token has its socket on this process (its own record: no Redis read, even
  with the Redis token manager).
- ``disconnect_all_clients()``: a draining server process closes its tabs' sockets, so they
  reconnect (to another process on the same port) instead of waiting for the process to die.
  It closes the Engine.IO transport, not the Socket.IO namespace: a namespace DISCONNECT
  reaches the browser as "io server disconnect", after which Reflex's client never reconnects
  (the tab stays on its last state until reloaded); a closed transport is "transport close",
  after which it reconnects and the page's on_load runs again.
- ``serve(...)``: ``reflex run --env prod --single-port`` (build, then Granian) or the existing
  build only, with the Granian options Reflex does not pass (backpressure, backlog, respawning
  failed workers, a kill timeout). Reflex constructs ``granian.server.Server`` inside
  ``reflex.utils.exec.run_granian_backend_prod`` and reads ``GRANIAN_WORKERS``; we give it a
  Server class with our options filled in.

tests/test_reflex_compat.py imports the same private paths and fails when Reflex changes them.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from reflex_base.registry import RegistrationContext
from reflex_base.utils.exceptions import ReflexRuntimeError


def _namespace() -> Any | None:
    try:
        return RegistrationContext.get().app.event_namespace
    except (LookupError, AttributeError, ReflexRuntimeError):
        return None  # outside a running app (unit tests)


async def is_client_here(token: str) -> bool:
    """Whether the tab behind ``token`` has its socket on this process; True outside a running app.
    (A tab that reconnected to another process is followed there: its on_load runs again.)"""
    namespace = _namespace()
    if namespace is None:
        return True
    return client_on(namespace._token_manager, token)


def client_on(manager: Any, token: str) -> bool:
    """``manager`` (a Reflex TokenManager) holds ``token``'s socket itself."""
    record = manager.token_to_socket.get(token)
    return record is not None and record.instance_id == manager.instance_id


async def disconnect_all_clients() -> int:
    """Close every tab's socket on this process; how many there were."""
    namespace = _namespace()
    if namespace is None:
        return 0
    server = namespace.server
    sids = list(namespace.sid_to_token)
    for sid in sids:
        eio_sid = server.manager.eio_sid_from_sid(sid, namespace.namespace)
        if eio_sid is not None:
            await server.eio.disconnect(eio_sid)
    return len(sids)


class _GranianOptions:
    """Keyword arguments added to every ``granian.server.Server`` Reflex constructs."""

    options: ClassVar[dict[str, Any]] = {}


def configure_granian(**options: Any) -> None:
    """Make Reflex's Granian start with ``options`` (e.g. backpressure=, respawn_failed_workers=)."""
    import granian.server

    base = granian.server.Server
    _GranianOptions.options = dict(options)
    if getattr(base, "_medupload_configured", False):
        return

    class ConfiguredServer(base):  # type: ignore[misc,valid-type]
        _medupload_configured = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, **_GranianOptions.options})

    granian.server.Server = ConfiguredServer  # type: ignore[misc]


def serve(host: str, port: int, workers: int, *, build: bool) -> None:
    """Serve page, events and API on one port from ``workers`` Granian processes (blocks)."""
    os.environ["GRANIAN_WORKERS"] = str(workers)  # read by run_granian_backend_prod
    if build:
        from reflex.reflex import cli

        cli.main(args=["run", "--env", "prod", "--single-port", "--frontend-port", str(port),
                       "--backend-port", str(port), "--backend-host", host], prog_name="reflex")
        return
    # What ``reflex run --env prod --single-port`` runs once the frontend is built.
    from reflex.utils import exec as reflex_exec
    from reflex.utils import prerequisites
    from reflex_base import constants
    from reflex_base.environment import environment

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_COMPILE_CONTEXT.set(constants.CompileContext.RUN)
    environment.REFLEX_SKIP_COMPILE.set(True)
    # Without a build (tests of the server alone) the API and the websocket are served, no pages.
    built = (prerequisites.get_web_dir() / constants.Dirs.STATIC).is_dir()
    environment.REFLEX_MOUNT_FRONTEND_COMPILED_APP.set(built)
    reflex_exec.run_granian_backend_prod(host, port, constants.LogLevel.INFO)
