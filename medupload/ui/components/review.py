"""Review pieces: the review queue, a fact with its actions, the edit/add forms, page images."""

from __future__ import annotations

import reflex as rx

from medupload.ui.review_views import KIND_LABELS, FactGroup, FactView, ReviewItemView
from medupload.ui.state.document import DocumentState, PageImage

_STATUS_COLOUR = {"extracted": "gray", "confirmed": "green", "corrected": "blue", "rejected": "red",
                  "added": "violet"}


def review_queue(items: rx.Var[list[ReviewItemView]], total: rx.Var[int]) -> rx.Component:
    def item(i: rx.Var[ReviewItemView]) -> rx.Component:
        return rx.el.li(
            rx.link(i.title, href=i.href, weight="medium"),
            rx.text(" · ", i.patient_name, " · uploaded ", i.since, as_="span", size="2",
                    color_scheme="gray"),
            custom_attrs={"data-testid": i.testid, "data-kind": i.kind},
            class_name="mu-review-item",
        )

    return rx.box(
        rx.text(total.to_string() + " open", size="2", custom_attrs={"data-testid": "review-count"}),
        rx.cond(
            items.length() > 0,  # type: ignore[attr-defined]
            rx.el.ol(rx.foreach(items, item), class_name="mu-review-list", aria_label="Review queue"),
            rx.text("Nothing to review.", color_scheme="gray", size="2"),
        ),
        custom_attrs={"data-testid": "review-queue", "data-count": total},
    )


def _field(label: str, name: str, value: rx.Var[str] | str, **props: object) -> rx.Component:
    field_id = f"fact-field-{name}"
    return rx.box(
        rx.el.label(label, html_for=field_id, class_name="mu-label"),
        rx.input(id=field_id, name=name, default_value=value, size="2", **props),
    )


def _flags(fact: rx.Var[FactView] | None) -> rx.Component:
    def box(name: str, label: str, checked: rx.Var[bool] | bool) -> rx.Component:
        return rx.el.label(
            rx.el.input(type="checkbox", name=name, default_checked=checked), " " + label,
            class_name="mu-check")

    return rx.hstack(
        box("negated", "Negated", fact.negated if fact is not None else False),
        box("family", "Family history", fact.family if fact is not None else False),
        box("historical", "Historical", fact.historical if fact is not None else False),
        spacing="3", wrap="wrap",
    )


def _concept_input(value: rx.Var[str] | str) -> rx.Component:
    return rx.box(
        rx.el.label("Finding (from the vocabulary)", html_for="fact-field-concept", class_name="mu-label"),
        rx.el.input(id="fact-field-concept", name="concept", default_value=value, list="concept-options",
                    on_change=DocumentState.search_concepts.debounce(250), class_name="mu-input",
                    autocomplete="off"),
        rx.el.datalist(rx.foreach(DocumentState.concept_options, lambda c: rx.el.option(value=c)),
                       id="concept-options"),
    )


def _edit_form(fact: rx.Var[FactView]) -> rx.Component:
    return rx.form(
        rx.vstack(
            _concept_input(fact.concept),
            rx.hstack(_field("Value", "value", fact.value), _field("Unit", "unit", fact.unit),
                      _field("Date (YYYY-MM-DD)", "date", fact.date), wrap="wrap", spacing="2"),
            _flags(fact),
            rx.hstack(
                rx.button("Save", type="submit", size="2", custom_attrs={"data-testid": "fact-save"}),
                rx.button("Cancel", type="button", size="2", variant="soft",
                          on_click=DocumentState.cancel_edit),
                spacing="2",
            ),
            spacing="2", align="start",
        ),
        on_submit=DocumentState.save_edit,
        reset_on_submit=False,
        custom_attrs={"data-testid": "fact-edit-form"},
    )


def _actions(fact: rx.Var[FactView]) -> rx.Component:
    return rx.hstack(
        rx.button("Confirm", size="1", variant="soft", color_scheme="green",
                  on_click=DocumentState.confirm(fact.id), aria_label="Confirm " + fact.concept,
                  custom_attrs={"data-testid": "fact-confirm-" + fact.id.to_string()}),
        rx.button("Edit", size="1", variant="soft", on_click=DocumentState.start_edit(fact.id),
                  aria_label="Edit " + fact.concept,
                  custom_attrs={"data-testid": "fact-edit-" + fact.id.to_string()}),
        rx.button("Reject", size="1", variant="soft", color_scheme="red",
                  on_click=DocumentState.reject(fact.id), aria_label="Reject " + fact.concept,
                  custom_attrs={"data-testid": "fact-reject-" + fact.id.to_string()}),
        spacing="2", wrap="wrap",
    )


def _show_button(fact: rx.Var[FactView]) -> rx.Component:
    """The fact's name, as a button (Enter and Space work): shows where it is on the page."""
    return rx.el.button(
        rx.text(fact.concept, weight="medium", size="2", as_="span"),
        type="button", on_click=DocumentState.show_fact(fact.id), class_name="mu-fact-show",
        aria_pressed=rx.cond(DocumentState.selected == fact.id, "true", "false"),
        title="Show on the page",
        custom_attrs={"data-testid": "fact-show-" + fact.id.to_string()},
    )


def fact_item(fact: rx.Var[FactView]) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            _show_button(fact),
            rx.cond(fact.value != "", rx.text(fact.value + " " + fact.unit, size="2",
                                              custom_attrs={"data-testid": "fact-value"})),
            rx.cond(fact.date != "", rx.text(fact.date, size="1", color_scheme="gray")),
            rx.badge(fact.status_label, variant="soft", color_scheme=rx.match(
                fact.status, *_STATUS_COLOUR.items(), "gray")),
            rx.cond(fact.confidence == "low", rx.badge(
                rx.icon("triangle-alert", size=12, aria_hidden="true"), fact.confidence_label,
                color_scheme="amber", variant="outline")),
            spacing="2", wrap="wrap", align="center",
        ),
        rx.cond(fact.snippet != "", rx.el.blockquote(fact.snippet, class_name="mu-snippet")),
        rx.cond(fact.flags != "", rx.text("Flags: " + fact.flags, size="1", color_scheme="gray")),
        rx.cond(fact.code != "", rx.text(fact.code, size="1", color_scheme="gray")),
        rx.cond(fact.provenance != "", rx.text(fact.provenance, size="1", color_scheme="gray")),
        rx.cond((DocumentState.selected == fact.id) & (fact.page == 0),
                rx.text("Location not available", size="1", color_scheme="gray",
                        custom_attrs={"data-testid": "fact-no-location"})),
        rx.cond(
            DocumentState.is_staff,
            rx.cond(DocumentState.editing == fact.id, _edit_form(fact), _actions(fact)),
        ),
        class_name="mu-fact",
        custom_attrs={"data-testid": fact.testid, "data-status": fact.status, "data-kind": fact.kind,
                      "data-selected": rx.cond(DocumentState.selected == fact.id, "true", "false")},
    )


def fact_groups(groups: rx.Var[list[FactGroup]]) -> rx.Component:
    def group(g: rx.Var[FactGroup]) -> rx.Component:
        return rx.box(
            rx.heading(g.label, size="3", as_="h3"),
            rx.el.ul(rx.foreach(g.facts, fact_item), class_name="mu-facts"),
            custom_attrs={"data-testid": "fact-group-" + g.kind},
        )

    return rx.cond(
        groups.length() > 0,  # type: ignore[attr-defined]
        rx.vstack(rx.foreach(groups, group), spacing="4", width="100%"),
        rx.text("Nothing was found in this document.", color_scheme="gray", size="2"),
    )


def add_form() -> rx.Component:
    return rx.cond(
        DocumentState.adding,
        rx.form(
            rx.vstack(
                rx.heading("Add a finding", size="3", as_="h3"),
                rx.el.label("Kind", html_for="fact-add-kind", class_name="mu-label"),
                rx.el.select(*(rx.el.option(label, value=kind) for kind, label in KIND_LABELS.items()),
                             id="fact-add-kind", name="kind", value=DocumentState.add_kind,
                             on_change=DocumentState.set_add_kind, class_name="mu-input"),
                _concept_input(""),
                rx.hstack(_field("Value", "value", ""), _field("Unit", "unit", ""),
                          _field("Date (YYYY-MM-DD)", "date", ""), wrap="wrap", spacing="2"),
                _flags(None),
                rx.hstack(
                    rx.button("Add", type="submit", size="2", custom_attrs={"data-testid": "fact-add-save"}),
                    rx.button("Cancel", type="button", size="2", variant="soft",
                              on_click=DocumentState.cancel_edit),
                    spacing="2",
                ),
                spacing="2", align="start",
            ),
            on_submit=DocumentState.save_add,
            custom_attrs={"data-testid": "fact-add-form"},
        ),
        rx.button("Add a finding", size="2", variant="soft", on_click=DocumentState.start_add,
                  custom_attrs={"data-testid": "fact-add"}),
    )


def page_images(pages: rx.Var[list[PageImage]]) -> rx.Component:
    highlight = DocumentState.highlight

    def page(p: rx.Var[PageImage]) -> rx.Component:
        return rx.el.figure(
            rx.el.div(
                rx.image(src=p.src, alt=p.alt, loading="lazy", width="100%", height="auto",
                         custom_attrs={"data-testid": p.testid}),
                rx.cond(highlight.page == p.number, rx.el.div(
                    role="img", aria_label=highlight.label, class_name="mu-highlight",
                    style={"left": highlight.left, "top": highlight.top, "width": highlight.width,
                           "height": highlight.height},
                    custom_attrs={"data-testid": "fact-highlight"},
                )),
                class_name="mu-page-frame",
            ),
            rx.el.figcaption(p.alt, class_name="mu-caption"),
            id=p.figure_id,
            class_name="mu-page",
        )

    return rx.box(rx.foreach(pages, page), class_name="mu-pages")
