"""/staff: documents across all patients (live), failures with retry, requirement completion,
stage-duration chart. Staff role only."""

from __future__ import annotations

import reflex as rx

from medupload.ui.components.charts import stage_chart
from medupload.ui.components.document_card import status_color
from medupload.ui.components.layout import frame, loading
from medupload.ui.state.staff import STATUS_FILTER_LABELS, STATUS_FILTERS, PatientProgress, StaffState
from medupload.ui.viewmodels import StaffRow


def _row(row: rx.Var[StaffRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.patient_id)),
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
        rx.table.cell(rx.code(row.patient_id)),
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


def _patient(p: rx.Var[PatientProgress]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(p.patient_id)),
        rx.table.cell(p.satisfied.to_string() + " of " + p.total.to_string()),
        rx.table.cell(rx.progress(value=p.percent, max=100, min_width="80px")),
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
            placeholder="Patient id",
            value=StaffState.patient_filter,
            on_change=StaffState.set_patient_filter.debounce(300),
            custom_attrs={"data-testid": "staff-patient-filter"},
        ),
        align="center",
        wrap="wrap",
        spacing="2",
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
        _table(
            ["Patient", "File", "Status", "Stage", "Elapsed"],
            rx.foreach(StaffState.rows, _row),
            "staff-documents",
        ),
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
            ["Patient", "Satisfied", "", "Open"],
            rx.foreach(StaffState.patients, _patient),
            "staff-requirements",
        ),
        rx.heading("Stage durations (recent documents)", size="4", as_="h2"),
        stage_chart(),
        spacing="4",
        width="100%",
    )


def staff_page() -> rx.Component:
    return frame(
        "Clinic dashboard", rx.cond(StaffState.ready, _content(), loading()), connection=StaffState.connection
    )
