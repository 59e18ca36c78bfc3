"""/login: username and password; patients land on /patient, staff on /staff."""

from __future__ import annotations

import reflex as rx

from medupload.ui.state.auth import AuthState


def login_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Sign in to MedUpload", size="6", as_="h1"),
                    rx.el.label("Username", html_for="login-username"),
                    rx.input(
                        id="login-username",
                        name="username",
                        auto_complete="username",
                        required=True,
                        width="100%",
                        custom_attrs={"data-testid": "login-username"},
                    ),
                    rx.el.label("Password", html_for="login-password"),
                    rx.input(
                        id="login-password",
                        name="password",
                        type="password",
                        auto_complete="current-password",
                        required=True,
                        width="100%",
                        custom_attrs={"data-testid": "login-password"},
                    ),
                    rx.cond(
                        AuthState.login_error != "",
                        rx.callout(
                            AuthState.login_error,
                            icon="triangle-alert",
                            color_scheme="red",
                            role="alert",
                            custom_attrs={"data-testid": "login-error"},
                            width="100%",
                        ),
                    ),
                    rx.button(
                        "Sign in",
                        type="submit",
                        loading=AuthState.signing_in,
                        width="100%",
                        custom_attrs={"data-testid": "login-submit"},
                    ),
                    spacing="3",
                    width="100%",
                ),
                # Signs in over HTTP (the server sets the HttpOnly cookie), then reloads.
                on_submit=[AuthState.start_sign_in, AuthState.sign_in_script()],
                reset_on_submit=False,
            ),
            width="100%",
            max_width="400px",
        ),
        padding="24px 16px",
        min_height="80vh",
    )
