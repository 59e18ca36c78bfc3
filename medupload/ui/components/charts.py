"""Stage durations: p50 and p90 per stage over the recent documents (records.stage_stats)."""

from __future__ import annotations

import reflex as rx

from medupload.ui.state.staff import StaffState


def stage_chart() -> rx.Component:
    return rx.cond(
        StaffState.stats.length() > 0,  # type: ignore[attr-defined]
        rx.box(
            rx.recharts.bar_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                rx.recharts.x_axis(data_key="label", interval=0, angle=-20, text_anchor="end", height=90),
                rx.recharts.y_axis(unit=" s"),
                rx.recharts.tooltip(),
                rx.recharts.legend(),
                rx.recharts.bar(data_key="p50_seconds", name="p50 (s)", fill="var(--blue-9)"),
                rx.recharts.bar(data_key="p90_seconds", name="p90 (s)", fill="var(--amber-9)"),
                data=StaffState.stats,
                width="100%",
                height=300,
            ),
            custom_attrs={
                "data-testid": "stage-chart",
                "data-documents": StaffState.stats_documents,
                "aria-label": "Stage durations, p50 and p90",
            },
            width="100%",
        ),
        rx.text("No finished documents yet.", color_scheme="gray", size="2"),
    )
