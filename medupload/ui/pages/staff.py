"""/staff: documents across all patients (live, searchable, paged), failures with retry, the review
queue, requirement completion, stage-duration chart. Staff role only."""

from __future__ import annotations

import reflex as rx

from medupload.ui.components.charts import stage_chart
from medupload.ui.components.document_card import status_color
from medupload.ui.components.layout import frame, loading
from medupload.ui.components.review import review_queue
from medupload.ui.review_views import PatientView
from medupload.ui.state.staff import STATUS_FILTER_LABELS, STATUS_FILTERS, StaffState, StatusCount
from medupload.ui.viewmodels import StaffRow


def _patient_link(row: rx.Var[StaffRow]) -> rx.Component:
    return rx.link(row.patient_name, href="/staff/patients/" + row.patient_id)


def _row(row: rx.Var[StaffRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_patient_link(row)),
        rx.table.cell(rx.link(row.filename, href="/documents/" + row.id, class_name="mu-filename")),
        rx.table.cell(rx.text(row.filename, class_name="mu-filename")),
        rx.table.cell(
            rx.badge(
                row.status_label,
                variant="soft",
                color_scheme=status_color(row.status),
            )
        ),
        rx.table.cell(row.stage_label),
        rx.table.cell(row.elapsed),
        custom_attrs={"data-testid": row.testid, "data-status": row.status, "data-stage": row.stage},
    )


def _failed(row: rx.Var[StaffRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_patient_link(row)),
        rx.table.cell(row.filename),
        rx.table.cell(rx.code(row.error_code)),
        rx.table.cell(row.failed_stage),
        rx.table.cell(
            rx.button(
                "Retry",
                size="1",
                on_click=StaffState.retry(row.id),
                custom_attrs={"data-testid": "staff-retry-" + row.id},
            )
        ),
        custom_attrs={"data-testid": "staff-failed-" + row.id},
    )


def _patient(p: rx.Var[PatientView]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(p.name, href=p.href)),
        rx.table.cell(p.dob),
        rx.table.cell(p.mrn),
        rx.table.cell(p.satisfied.to_string() + " of " + p.total.to_string()),
        rx.table.cell(rx.progress(value=p.percent, max=100, min_width="80px",
                                  aria_label="Requirements satisfied for " + p.name)),
        rx.table.cell(
            p.missing.to_string()
            + " missing, "
            + p.expired.to_string()
            + " expired, "
            + p.needs_review.to_string()
            + " to review"
        ),
        custom_attrs={"data-testid": p.testid},
    )


def _filters() -> rx.Component:
    return rx.hstack(
        rx.el.label("Status", html_for="staff-status"),
        rx.select.root(
            rx.select.trigger(id="staff-status", custom_attrs={"data-testid": "staff-status-filter"}),
            rx.select.content(*(rx.select.item(STATUS_FILTER_LABELS[s], value=s) for s in STATUS_FILTERS)),
            value=StaffState.status_filter,
            on_change=StaffState.set_status_filter,
        ),
        rx.el.label("Patient", html_for="staff-patient"),
        rx.input(
            id="staff-patient",
            placeholder="Name, MRN or patient id",
            value=StaffState.patient_filter,
            on_change=StaffState.set_patient_filter.debounce(300),
            custom_attrs={"data-testid": "staff-patient-filter"},
        ),
        align="center",
        wrap="wrap",
        spacing="2",
    )


def _count(c: rx.Var[StatusCount]) -> rx.Component:
    return rx.badge(c.label + ": " + c.count.to_string(), variant="outline",
                    custom_attrs={"data-testid": "staff-count-" + c.key})


def _pager(what: str = "") -> rx.Component:
    """Previous / label / Next for the documents (``what=""``) or the patients (``"patient"``)."""
    page, label, has_next, turn = (
        (StaffState.patient_page, StaffState.patient_page_label, StaffState.patient_has_next,
         StaffState.turn_patient_page) if what else
        (StaffState.page, StaffState.page_label, StaffState.has_next, StaffState.turn_page))
    prefix = f"staff-{what}-page" if what else "staff-page"
    return rx.hstack(
        rx.button("Previous", size="1", variant="soft", disabled=page == 0,
                  on_click=turn(-1), custom_attrs={"data-testid": f"{prefix}-prev"}),
        rx.text(label, size="2", custom_attrs={"data-testid": f"{prefix}-label"}),
        rx.button("Next", size="1", variant="soft", disabled=~has_next,
                  on_click=turn(1), custom_attrs={"data-testid": f"{prefix}-next"}),
        align="center", spacing="2",
    )


def _table(header: list[str], body: rx.Component, testid: str) -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*(rx.table.column_header_cell(h) for h in header))),
            rx.table.body(body),
            width="100%",
            size="1",
        ),
        class_name="mu-table-wrap",
        custom_attrs={"data-testid": testid},
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Documents", size="4", as_="h2"),
            rx.badge(
                StaffState.in_flight_count.to_string() + " in flight",
                variant="soft",
                custom_attrs={"data-testid": "staff-in-flight"},
            ),
            align="center",
            spacing="3",
        ),
        _filters(),
        rx.hstack(rx.foreach(StaffState.status_counts, _count), wrap="wrap", spacing="2"),
        _table(
            ["Patient", "File", "Status", "Stage", "Elapsed"],
            rx.foreach(StaffState.rows, _row),
            "staff-documents",
        ),
        _pager(),
        rx.heading("To review", size="4", as_="h2"),
        review_queue(StaffState.review_items, StaffState.review_total),
        rx.heading("Failed documents", size="4", as_="h2"),
        rx.cond(
            StaffState.failed_rows.length() > 0,  # type: ignore[attr-defined]
            _table(
                ["Patient", "File", "Error", "Failed step", ""],
                rx.foreach(StaffState.failed_rows, _failed),
                "staff-failed",
            ),
            rx.text("No failed documents.", color_scheme="gray", size="2"),
        ),
        rx.heading("Requirement completion", size="4", as_="h2"),
        _table(
            ["Patient", "Born", "MRN", "Satisfied", "", "Open"],
            rx.foreach(StaffState.patients, _patient),
            "staff-requirements",
        ),
        _pager("patient"),
        rx.heading("Stage durations (recent documents)", size="4", as_="h2"),
        stage_chart(),
        spacing="4",
        width="100%",
    )


def staff_page() -> rx.Component:
    return frame(
        "Clinic dashboard", rx.cond(StaffState.ready, _content(), loading()), connection=StaffState.connection
    )
