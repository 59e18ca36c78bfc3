"""/documents/[did]: the document's pages beside what was found in it. Staff review here; a
patient sees their own document read-only ("what we found")."""

from __future__ import annotations

import reflex as rx

from medupload.ui.components.layout import frame, loading
from medupload.ui.components.review import add_form, fact_groups, page_images
from medupload.ui.state.document import DocumentState


def _content() -> rx.Component:
    return rx.vstack(
        rx.link("← Back", href=DocumentState.back_href, size="2"),
        rx.hstack(
            rx.text(DocumentState.filename, weight="medium", class_name="mu-filename"),
            rx.cond(DocumentState.document_type != "", rx.badge(DocumentState.document_type, variant="soft")),
            rx.cond(DocumentState.document_date != "",
                    rx.text("dated " + DocumentState.document_date, size="2", color_scheme="gray")),
            rx.cond(DocumentState.reviewed != "", rx.badge(
                rx.icon("badge-check", size=14, aria_hidden="true"), DocumentState.reviewed,
                color_scheme="green", variant="soft", custom_attrs={"data-testid": "doc-reviewed"})),
            wrap="wrap", spacing="2", align="center",
        ),
        rx.box(
            rx.cond(DocumentState.error != "",
                    rx.callout(DocumentState.error, color_scheme="red", role="alert",
                               custom_attrs={"data-testid": "review-error"})),
            rx.el.div(DocumentState.notice, role="status", aria_live="polite", class_name="mu-sr-status"),
        ),
        rx.box(
            rx.el.section(page_images(DocumentState.pages), aria_label="Pages", class_name="mu-doc-pages"),
            rx.el.section(
                rx.heading("What we found", size="4", as_="h2"),
                fact_groups(DocumentState.groups),
                rx.cond(DocumentState.is_staff, add_form()),
                aria_label="Findings",
                class_name="mu-doc-facts",
            ),
            class_name="mu-doc-layout",
        ),
        spacing="3",
        width="100%",
    )


def document_page() -> rx.Component:
    return frame("Document", rx.cond(DocumentState.ready, _content(), loading()))
