"""The one place that reaches into Reflex internals (no public API for it in Reflex 0.10).

``is_client_connected(token)`` asks the app's Socket.IO namespace's token manager whether the
tab behind a client token still has a socket (on any instance, with the Redis token manager).
tests/test_reflex_compat.py imports the same private path and fails when Reflex changes it.
"""

from __future__ import annotations

from reflex_base.registry import RegistrationContext
from reflex_base.utils.exceptions import ReflexRuntimeError


async def is_client_connected(token: str) -> bool:
    """Whether the tab behind ``token`` still has a socket; True outside a running app."""
    try:
        namespace = RegistrationContext.get().app.event_namespace
    except (LookupError, AttributeError, ReflexRuntimeError):
        return True  # outside a running app (unit tests): assume connected
    if namespace is None:
        return True
    return await namespace._token_manager.is_token_connected(token)
