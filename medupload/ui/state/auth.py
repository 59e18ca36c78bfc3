"""Sign-in: the JWT lives in the ``medupload_session`` cookie, which the REST/SSE API reads too."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import reflex as rx

from medupload.auth import (
    SESSION_COOKIE,
    AuthError,
    Principal,
    create_access_token,
    decode_access_token,
)
from medupload.db import session_scope
from medupload.progress.stages import message
from medupload.settings import get_settings
from medupload.throttle import Throttled, sign_in

log = logging.getLogger(__name__)

HOME = {"patient": "/patient", "staff": "/staff"}


class AuthState(rx.State):
    """The signed-in user, as far as the browser is concerned: only the cookie."""

    # Not HttpOnly (rx.Cookie is written by the page), but signed and short-lived; the API
    # verifies the same token, so one sign-in serves the UI and the REST/SSE endpoints.
    session_token: str = rx.Cookie(
        "", name=SESSION_COOKIE, path="/", max_age=get_settings().token_ttl_seconds, same_site="lax"
    )
    login_error: str = ""
    signing_in: bool = False

    def _principal(self) -> Principal | None:
        """The verified principal, or None when the cookie is missing, forged or expired."""
        if not self.session_token:
            return None
        try:
            return decode_access_token(self.session_token)
        except AuthError:
            return None

    @rx.var
    def role(self) -> str:
        principal = self._principal()
        return principal.role if principal else ""

    @rx.event
    async def login(self, form: dict[str, Any]) -> Any:
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        if not username or not password:
            self.login_error = message("auth.invalid")
            return None
        self.signing_in = True
        try:
            # Argon2 verification takes tens of ms: keep it off the event loop.
            user_token = await asyncio.to_thread(_check_credentials, username, password,
                                                 self.router.session.client_ip or "unknown")
        except Throttled as exc:
            self.login_error = message(exc.code, seconds=exc.retry_after)
            return None
        finally:
            self.signing_in = False
        if user_token is None:
            self.login_error = message("auth.invalid")
            return None
        token, role = user_token
        self.login_error = ""
        self.session_token = token
        return rx.redirect(HOME.get(role, "/login"))

    @rx.event
    def logout(self) -> Any:
        self.session_token = ""
        return rx.redirect("/login")

    @rx.event
    def redirect_if_signed_in(self) -> Any:
        principal = self._principal()
        if principal is not None:
            return rx.redirect(HOME[principal.role])
        return None

    @rx.event
    def redirect_if_signed_in_else_login(self) -> Any:
        principal = self._principal()
        return rx.redirect(HOME[principal.role] if principal is not None else "/login")


def _check_credentials(username: str, password: str, address: str) -> tuple[str, str] | None:
    with session_scope() as session:
        try:
            user = sign_in(session, username, password, address)
        except Throttled:
            raise
        except AuthError:
            return None
        token, _ = create_access_token(user)
        return token, user.role
