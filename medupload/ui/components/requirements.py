"""The requirement checklist for the patient's programs, with the document behind each."""

from __future__ import annotations

import reflex as rx

from medupload.ui.viewmodels import RequirementView

_ICON = {
    "satisfied": "circle-check",
    "missing": "circle-dashed",
    "expired": "clock-alert",
    "needs_review": "circle-help",
}
_COLOUR = {"satisfied": "green", "missing": "gray", "expired": "amber", "needs_review": "blue"}


def requirement_item(req: rx.Var[RequirementView]) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.match(
                req.state,
                *((s, rx.icon(icon, size=18, aria_hidden="true")) for s, icon in _ICON.items()),
                rx.icon("circle", size=18, aria_hidden="true"),
            ),
            rx.box(
                rx.text(req.title, weight="medium", size="2"),
                rx.hstack(
                    rx.badge(
                        req.state_label,
                        color_scheme=rx.match(req.state, *_COLOUR.items(), "gray"),
                        variant="soft",
                    ),
                    rx.cond(
                        req.document_id != "",
                        rx.link(
                            "from your document ",
                            req.evidence,
                            href="#document-" + req.document_id,
                            size="1",
                        ),
                    ),
                    spacing="2",
                    wrap="wrap",
                    align="center",
                ),
            ),
            align="start",
            spacing="2",
        ),
        custom_attrs={"data-testid": req.testid, "data-state": req.state},
        class_name="mu-requirement",
    )


def checklist(requirements: rx.Var[list[RequirementView]]) -> rx.Component:
    return rx.cond(
        requirements.length() > 0,  # type: ignore[attr-defined]
        rx.el.ul(
            rx.foreach(requirements, requirement_item),
            class_name="mu-requirements",
            aria_label="Care program requirements",
        ),
        rx.text("You are not enrolled in a care program.", color_scheme="gray", size="2"),
    )
