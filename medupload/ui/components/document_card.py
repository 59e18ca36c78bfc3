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
            # Step changes for screen readers: only the step in progress (or the failed one) is
            # read out, politely, when it changes.
            rx.el.p(
                rx.foreach(card.steps, lambda step: rx.cond(
                    (step.state == "active") | (step.state == "failed"),
                    rx.el.span(card.filename, ": ", step.label, ", ", step.state_label, ". "),
                )),
                rx.cond(card.status == "processed", rx.el.span(card.filename, ": finished.")),
                aria_live="polite",
                class_name="mu-sr-status",
                custom_attrs={"data-testid": "doc-announcer"},
            ),
            rx.cond(
                card.status == "processed",
                rx.hstack(
                    rx.link("What we found", href="/documents/" + card.id, size="2",
                            custom_attrs={"data-testid": "doc-found-" + card.id}),
                    rx.cond(card.reviewed != "", rx.badge(
                        rx.icon("badge-check", size=14, aria_hidden="true"),
                        "Reviewed by the clinic on " + card.reviewed, color_scheme="green", variant="soft",
                        custom_attrs={"data-testid": "doc-reviewed-" + card.id})),
                    spacing="3", align="center", wrap="wrap",
                ),
            ),
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
