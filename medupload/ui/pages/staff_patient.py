"""/staff/patients/[pid]: one patient for staff — documents, requirement checklist with evidence,
open review items, audit trail."""

from __future__ import annotations

import reflex as rx

from medupload.ui.components.layout import frame, loading
from medupload.ui.components.review import review_queue
from medupload.ui.review_views import AuditView
from medupload.ui.state.review import StaffDocument, StaffPatientState, StaffRequirement

_COLOUR = {"satisfied": "green", "missing": "gray", "expired": "amber", "needs_review": "blue"}


def _document(d: rx.Var[StaffDocument]) -> rx.Component:
    return rx.el.li(
        rx.link(d.filename, href="/documents/" + d.id, class_name="mu-filename"),
        rx.text(" · ", d.status_label, " · ", d.document_type, " · uploaded ", d.uploaded, as_="span",
                size="2", color_scheme="gray"),
        custom_attrs={"data-testid": d.testid, "data-status": d.status},
    )


def _requirement(r: rx.Var[StaffRequirement]) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.text(r.title, size="2", weight="medium"),
            rx.badge(r.state_label, variant="soft", color_scheme=rx.match(r.state, *_COLOUR.items(), "gray")),
            rx.cond(r.document_id != "", rx.link(rx.cond(r.evidence != "", r.evidence, "evidence"),
                                                 href="/documents/" + r.document_id, size="2")),
            wrap="wrap", spacing="2", align="center",
        ),
        custom_attrs={"data-testid": r.testid, "data-state": r.state},
    )


def _audit(a: rx.Var[AuditView]) -> rx.Component:
    return rx.table.row(rx.table.cell(a.at), rx.table.cell(rx.code(a.action)),
                        rx.table.cell(rx.code(a.user_id)), rx.table.cell(rx.code(a.document_id)))


def _content() -> rx.Component:
    return rx.vstack(
        rx.link("← Clinic dashboard", href="/staff", size="2"),
        rx.hstack(
            rx.heading(StaffPatientState.name, size="5", as_="h2"),
            rx.cond(StaffPatientState.dob != "", rx.text("born " + StaffPatientState.dob, size="2")),
            rx.cond(StaffPatientState.mrn != "", rx.text("MRN " + StaffPatientState.mrn, size="2")),
            wrap="wrap", spacing="3", align="baseline",
        ),
        rx.heading("Requirements", size="4", as_="h2"),
        rx.el.ul(rx.foreach(StaffPatientState.checklist, _requirement), class_name="mu-requirements"),
        rx.heading("To review", size="4", as_="h2"),
        review_queue(StaffPatientState.review_items, StaffPatientState.review_items.length()),  # type: ignore[attr-defined]
        rx.heading("Documents", size="4", as_="h2"),
        rx.el.ul(rx.foreach(StaffPatientState.documents, _document), class_name="mu-list"),
        rx.heading("Audit trail", size="4", as_="h2"),
        rx.box(
            rx.table.root(
                rx.table.header(rx.table.row(*(rx.table.column_header_cell(h)
                                               for h in ("When", "Action", "User", "Document")))),
                rx.table.body(rx.foreach(StaffPatientState.audit_entries, _audit)),
                size="1", width="100%",
            ),
            class_name="mu-table-wrap",
        ),
        spacing="3",
        width="100%",
        custom_attrs={"data-testid": "staff-patient-page"},
    )


def staff_patient_page() -> rx.Component:
    return frame("Patient", rx.cond(StaffPatientState.ready, _content(), loading()))
