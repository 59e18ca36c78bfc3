"""Who is signed in, for the Reflex UI: decided from the ``medupload_session`` cookie on every event.

Every Reflex event handler and state var is a public endpoint (a socket to ``/_event`` with a
tab's client token reaches them), so nothing here trusts the state's own memory of a sign-in:

- The cookie is HttpOnly and set by the server (``POST /api/v1/auth/session``; the login page
  calls it with fetch, then reloads so the socket handshake carries it). No token is kept in
  state: ``SessionGuard`` reads the cookie from the socket's handshake headers, verifies it
  (signature, expiry, and ``principal_active`` — not signed out, account not disabled), keeps
  only the principal's ids as a backend var, and strips the cookie from the router data that
  Reflex would otherwise pickle under ``.states/``.
- Whenever the signed-in user changes or goes away (sign-out, revoked or missing cookie), the
  state that holds PHI (every substate of ``AuthState``) is reset BEFORE the event runs, so a
  ``hydrate`` from a signed-out tab or a replayed client token gets defaults, not documents.
- Events without handshake headers (uploads over HTTP, chained events) keep the principal the
  last socket event established, re-checked against revocation.
- Live loops call ``still_signed_in()`` every tick; when it fails they return ``session_ended``,
  which sends the tab to /login. It answers from memory: revocations come as notices
  (``sessions``), and who each tab on this process is signed in as is noted here whenever the
  guard decides it (a loop runs on the process that holds its tab's socket, ``ui.live``), so an
  idle page reads neither Redis nor its state (which several processes keep in Redis).
"""

from __future__ import annotations

import contextlib
import dataclasses
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any

import reflex as rx
from redis.exceptions import RedisError
from reflex.istate.data import HeaderData
from reflex.middleware.middleware import Middleware
from reflex_base import constants

from medupload.auth import SESSION_COOKIE, AuthError, Principal, decode_access_token
from medupload.progress.stages import message
from medupload.sessions import principal_active, revoke_token

if TYPE_CHECKING:
    from reflex.app import App
    from reflex.state import BaseState, StateUpdate
    from reflex_base.event import Event

HOME = {"patient": "/patient", "staff": "/staff"}
# Marks router data whose cookie was already taken out: an event that brings no new handshake
# headers (an upload, a chained event) still carries this and keeps the established principal.
_CHECKED = "x-medupload-session-checked"

# The browser signs in and out over HTTP so the server can set and clear the HttpOnly cookie;
# a full page load follows so the next socket handshake carries (or lacks) the cookie.
_SIGN_IN_JS = """
(async () => {
  const field = (id) => document.getElementById(id).value;
  try {
    const response = await fetch("/api/v1/auth/session", {
      method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({username: field("login-username").trim(), password: field("login-password")}),
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      window.location.assign({patient: "/patient", staff: "/staff"}[body.role] || "/");
      return null;
    }
    const error = body.error || {};
    return {code: error.code || "error.internal", retry_after: error.retry_after || 0};
  } catch (e) {
    return {code: "error.internal", retry_after: 0};
  }
})()
"""
_SIGN_OUT_JS = """
fetch("/api/v1/auth/logout", {method: "POST", credentials: "same-origin"})
  .catch(() => null).finally(() => window.location.assign("/login"))
"""


# Client token -> the user id its tab is signed in as on this process (None: signed out), as
# the guard last decided it. Forgotten wholesale when large: a tab then reads its state once.
_tab_users: dict[str, str | None] = {}
_MAX_TABS = 100_000
_UNKNOWN = object()


def _note_tab(client_token: str, user_id: str | None) -> None:
    if len(_tab_users) >= _MAX_TABS and client_token not in _tab_users:
        _tab_users.clear()
    _tab_users[client_token] = user_id


class AuthState(rx.State):
    role: str = ""
    login_error: str = ""
    signing_in: bool = False
    # The verified principal of the current event (ids and token id only; never the token).
    _session: dict[str, Any] = rx.field(default_factory=dict)

    def _principal(self) -> Principal | None:
        """The principal ``SessionGuard`` verified from the cookie for this event, or None."""
        if not self._session:
            return None
        return Principal(**self._session)

    def _admit(self, role: str) -> Principal | None:
        """The principal when the signed-in user has ``role`` (a patient also needs a patient id);
        else None, and ``_elsewhere()`` says where to send the tab."""
        principal = self._principal()
        if principal is None or principal.role != role or (role == "patient" and not principal.patient_id):
            return None
        return principal

    def _elsewhere(self) -> Any:
        """Where a page load goes when ``_admit`` refused: sign-in, or the user's own home."""
        principal = self._principal()
        return rx.redirect(HOME.get(principal.role, "/login") if principal is not None else "/login")

    async def _reauthorise(self, fresh: bool, token: str | None) -> None:
        """Decide who is asking (see the module docstring); reset PHI if that changed."""
        principal: Principal | None
        if fresh:
            try:
                principal = decode_access_token(token) if token else None
            except AuthError:
                principal = None
        else:
            principal = self._principal()
        if principal is not None and not await principal_active(principal):
            principal = None
        if (principal.user_id if principal else None) != self._session.get("user_id"):
            await self._clear_phi()
        session = dataclasses.asdict(principal) if principal else {}
        if session != self._session:
            self._session = session
        role = principal.role if principal else ""
        if role != self.role:
            self.role = role
        _note_tab(self.router.session.client_token, principal.user_id if principal else None)

    async def _clear_phi(self) -> None:
        pending = list(type(self).get_substates())
        while pending:
            cls = pending.pop()
            pending.extend(cls.get_substates())
            (await self.get_state(cls)).reset()

    async def still_signed_in(self, principal: Principal, client_token: str) -> bool:
        """For live loops (background tasks), each tick: the token is still good and this tab
        (``client_token``) is still signed in as the same user. Call outside ``async with self``."""
        if not await principal_active(principal):
            return False
        user_id = _tab_users.get(client_token, _UNKNOWN)
        if user_id is _UNKNOWN:  # not noted since this process started (or forgot): ask the state
            async with self:
                current = self._principal()
            user_id = current.user_id if current is not None else None
            _note_tab(client_token, user_id)
        return user_id == principal.user_id

    # -- sign-in -------------------------------------------------------------------------------
    @rx.event
    def start_sign_in(self) -> None:
        self.signing_in = True
        self.login_error = ""

    @rx.event
    def sign_in_failed(self, result: dict[str, Any] | None) -> None:
        """The sign-in script's answer: an error code (shown from the catalogue), or None."""
        self.signing_in = False
        if not isinstance(result, dict) or not result:
            return
        code = str(result.get("code", ""))
        try:  # sent by the browser: a number, or nothing worth showing
            seconds = max(0, int(result.get("retry_after") or 0))
        except (TypeError, ValueError):
            seconds = 0
        self.login_error = message(code if code.startswith("auth.") else "error.internal", seconds=seconds)

    @staticmethod
    def sign_in_script() -> Any:
        """The login form's submit action (an EventSpec): the password goes to the API over
        HTTP, never through the Reflex socket or state."""
        return rx.call_script(_SIGN_IN_JS, callback=AuthState.sign_in_failed)

    # -- sign-out ------------------------------------------------------------------------------
    @rx.event
    async def logout(self) -> Any:
        principal = self._principal()
        if principal is not None:
            # Revoked here too, so the token is dead even if the browser never sends the request.
            from medupload.redis_client import async_redis

            with contextlib.suppress(RedisError, OSError):  # Redis down: the cookie still goes
                await revoke_token(async_redis(), principal)
        await self._clear_phi()
        self._session = {}
        self.role = ""
        _note_tab(self.router.session.client_token, None)
        return rx.call_script(_SIGN_OUT_JS)

    @rx.event
    def session_ended(self) -> Any:
        """A live loop found the session revoked: SessionGuard has already cleared the state."""
        return rx.call_script(_SIGN_OUT_JS)

    # -- routing -------------------------------------------------------------------------------
    @rx.event
    def redirect_if_signed_in(self) -> Any:
        self.signing_in = False
        principal = self._principal()
        if principal is not None:
            return rx.redirect(HOME[principal.role])
        return None

    @rx.event
    def redirect_if_signed_in_else_login(self) -> Any:
        principal = self._principal()
        return rx.redirect(HOME[principal.role] if principal is not None else "/login")


class SessionGuard(Middleware):
    """Runs before every event handler (hydrate included): see the module docstring."""

    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        fresh, token = _take_cookie(state)
        auth = await state.get_state(AuthState)
        await auth._reauthorise(fresh, token)
        return None


def _take_cookie(state: BaseState) -> tuple[bool, str | None]:
    """(whether this event brought handshake headers, the session token in them); the cookie is
    then removed from the router data and header var, so it is never pickled with the state."""
    headers = state.router_data.get(constants.RouteVar.HEADERS)
    if not isinstance(headers, dict) or _CHECKED in headers:
        return False, None
    raw = headers.get("cookie", "")
    token = None
    if raw:
        try:
            jar = SimpleCookie(raw)
        except CookieError:
            jar = SimpleCookie()
        morsel = jar.get(SESSION_COOKIE)
        token = morsel.value if morsel is not None and morsel.value else None
    stripped = {key: value for key, value in headers.items() if key != "cookie"}
    stripped[_CHECKED] = "1"
    state.router_data = {**state.router_data, constants.RouteVar.HEADERS: stripped}
    state.rx_router_headers = HeaderData.from_router_data(state.router_data)
    return True, token
