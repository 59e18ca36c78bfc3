"""The page frame: a header with the product name, the connection state and sign-out."""

from __future__ import annotations

import reflex as rx
from reflex.components.core.banner import has_connection_errors

from medupload.ui.state.auth import AuthState


def connection_badge(connection: rx.Var[str]) -> rx.Component:
    """Tells the user whether updates are live; text, not colour alone.

    ``connection`` is the server's view (live, or polling while Redis is down). The server cannot
    say that the browser lost it: while the socket is down and reconnect attempts fail, the
    badge says so from the browser's side instead of a stale "Live updates".
    """
    state = rx.cond(has_connection_errors, "reconnecting", connection)
    return rx.badge(
        rx.match(
            state,
            ("live", "Live updates"),
            ("polling", "Updating every few seconds"),
            ("reconnecting", "Reconnecting…"),
            "Connecting…",
        ),
        color_scheme=rx.match(state, ("live", "green"), ("polling", "amber"), "gray"),
        variant="soft",
        custom_attrs={"data-testid": "connection", "data-state": state},
        role="status",
    )


def frame(title: str, *children: rx.Component, connection: rx.Var[str] | None = None) -> rx.Component:
    return rx.box(
        rx.el.header(
            rx.hstack(
                rx.heading("MedUpload", size="5", as_="p"),
                rx.spacer(),
                connection_badge(connection) if connection is not None else rx.fragment(),
                rx.button(
                    "Sign out",
                    on_click=AuthState.logout,
                    variant="soft",
                    size="2",
                    custom_attrs={"data-testid": "logout"},
                ),
                align="center",
                wrap="wrap",
                spacing="3",
                width="100%",
            ),
            style={"padding": "12px 16px", "borderBottom": "1px solid var(--gray-a5)"},
        ),
        rx.el.main(
            rx.heading(title, size="7", as_="h1", margin_bottom="16px"),
            *children,
            style={"maxWidth": "1100px", "margin": "0 auto", "padding": "16px"},
        ),
        width="100%",
    )


def loading() -> rx.Component:
    return rx.center(rx.spinner(size="3"), rx.text("Loading…", margin_left="8px"), padding="48px")
