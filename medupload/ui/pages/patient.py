"""/patient: upload, one card per document with the live indicator, the requirement checklist."""

from __future__ import annotations

import reflex as rx

from medupload.ui.components.document_card import document_card
from medupload.ui.components.layout import frame, loading
from medupload.ui.components.requirements import checklist
from medupload.ui.components.upload import upload_box
from medupload.ui.state.patient import PatientState


def _notice(notice: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("info")),
        rx.callout.text(
            notice["text"],
            rx.cond(
                notice["document_id"] != "",
                rx.link(" Show the document", href="#document-" + notice["document_id"]),
            ),
        ),
        color_scheme=rx.cond(notice["kind"] == "duplicate", "blue", "red"),
        role="status",
        custom_attrs={"data-testid": "notice-" + notice["kind"], "data-document": notice["document_id"]},
        width="100%",
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.heading("Upload documents", size="4", as_="h2", margin_bottom="8px"),
            upload_box(),
            width="100%",
        ),
        rx.foreach(PatientState.notices, _notice),
        rx.heading("My requirements", size="4", as_="h2"),
        rx.card(checklist(PatientState.requirements), width="100%"),
        rx.heading("My documents", size="4", as_="h2"),
        rx.cond(
            PatientState.has_documents,
            rx.vstack(
                rx.foreach(PatientState.live_cards, document_card),
                rx.foreach(PatientState.settled_cards, document_card),
                width="100%",
                spacing="3",
                custom_attrs={"data-testid": "documents"},
            ),
            rx.text("No documents yet.", color_scheme="gray"),
        ),
        spacing="4",
        width="100%",
    )


def patient_page() -> rx.Component:
    return frame(
        "My documents",
        rx.cond(PatientState.ready, _content(), loading()),
        connection=PatientState.connection,
    )
