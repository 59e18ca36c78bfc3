"""One uploaded document: name, status, the indicator, and on failure the message and Retry."""

from __future__ import annotations

from typing import Any

import reflex as rx

from medupload.progress.stages import DocumentStatus
from medupload.ui.components.steps import indicator
from medupload.ui.state.patient import PatientState
from medupload.ui.viewmodels import CardView


def status_color(status: rx.Var[str]) -> Any:
    """The badge colour of a document status (the patient's cards and the staff table)."""
    return rx.match(
        status, (DocumentStatus.PROCESSED.value, "green"), (DocumentStatus.FAILED.value, "red"),
        (DocumentStatus.PROCESSING.value, "blue"), "gray",
    )


def status_badge(status: rx.Var[str], label: rx.Var[str]) -> rx.Component:
    return rx.badge(
        label,
        color_scheme=status_color(status),
        variant="soft",
        custom_attrs={"data-testid": "doc-status", "data-state": status},
    )


def document_card(card: rx.Var[CardView]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("file-text", size=20, aria_hidden="true"),
                rx.text(card.filename, weight="bold", class_name="mu-filename"),
                rx.spacer(),
                status_badge(card.status, card.status_label),
                align="center",
                width="100%",
                wrap="wrap",
            ),
            rx.text(
                "Uploaded ",
                card.uploaded,
                rx.cond(card.attempt > 1, rx.el.span(" · attempt ", card.attempt.to_string())),
                size="1",
                color_scheme="gray",
            ),
            indicator(card.steps),
            rx.cond(
                card.failed,
                rx.callout.root(
                    rx.callout.icon(rx.icon("triangle-alert")),
                    rx.callout.text(
                        card.error_message,
                        " ",
                        rx.el.span("(", card.error_code, ")", class_name="mu-code"),
                    ),
                    rx.button(
                        rx.icon("rotate-ccw", size=16),
                        "Retry",
                        on_click=PatientState.retry(card.id),
                        size="2",
                        custom_attrs={"data-testid": "retry"},
                    ),
                    color_scheme="red",
                    role="alert",
                    custom_attrs={"data-testid": "doc-error"},
                ),
            ),
            spacing="3",
            width="100%",
        ),
        id=card.testid,
        custom_attrs={"data-testid": card.testid, "data-status": card.status, "data-attempt": card.attempt},
        width="100%",
    )
