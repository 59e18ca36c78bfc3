"""The six-step indicator. Each step carries a text label and a state word, so nothing depends
on colour; the active step has aria-current="step"."""

from __future__ import annotations

import reflex as rx

from medupload.ui.viewmodels import StepView

_ICONS = {"done": "circle-check", "active": "loader-circle", "failed": "circle-x", "pending": "circle"}
_COLOURS = {
    "done": "var(--green-11)",
    "active": "var(--blue-11)",
    "failed": "var(--red-11)",
    "pending": "var(--gray-9)",
}


def _icon(state: rx.Var[str]) -> rx.Component:
    return rx.match(
        state,
        *(
            (
                name,
                rx.icon(
                    icon,
                    size=20,
                    color=_COLOURS[name],
                    class_name="mu-spin" if name == "active" else "",
                    aria_hidden="true",
                ),
            )
            for name, icon in _ICONS.items()
        ),
        rx.icon("circle", size=20, color=_COLOURS["pending"], aria_hidden="true"),
    )


def step_item(step: rx.Var[StepView]) -> rx.Component:
    return rx.el.li(
        _icon(step.state),
        rx.box(
            rx.text(step.label, weight="medium", size="2"),
            rx.text(step.state_label, size="1", color_scheme="gray"),
            rx.cond(step.detail != "", rx.text(step.detail, size="1")),
            rx.cond(step.elapsed != "", rx.text(step.elapsed, size="1", color_scheme="gray")),
            style={"minWidth": "0"},
        ),
        class_name="mu-step",
        custom_attrs={
            "data-testid": step.testid,
            "data-state": step.state,
            "aria-current": rx.cond(step.state == "active", "step", "false"),
        },
    )


def indicator(steps: rx.Var[list[StepView]]) -> rx.Component:
    return rx.el.ol(
        rx.foreach(steps, step_item),
        class_name="mu-steps",
        aria_label="Processing steps",
    )
