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


# When a document finishes or fails while the tab is in the background, a browser notification
# (if the patient allowed them) says so. It watches the cards' data-status, so it needs nothing
# from the server; the text names no document (it may show on a lock screen).
_NOTIFY_JS = """
(() => {
  if (window.__muNotify) return;
  window.__muNotify = true;
  const seen = new Map();
  const check = () => {
    document.querySelectorAll('[data-testid^="document-d_"]').forEach((card) => {
      const id = card.getAttribute('data-testid');
      const status = card.getAttribute('data-status');
      const before = seen.get(id);
      seen.set(id, status);
      if (before && before !== status && (status === 'processed' || status === 'failed')
          && document.hidden && 'Notification' in window && Notification.permission === 'granted') {
        new Notification('MedUpload', {tag: id, body: status === 'processed'
          ? 'A document has been read.' : 'A document could not be read. Open MedUpload to try again.'});
      }
    });
  };
  new MutationObserver(check).observe(document.body,
    {subtree: true, childList: true, attributes: true, attributeFilter: ['data-status']});
  check();
})();
"""
_ASK_JS = "if ('Notification' in window) { Notification.requestPermission(); }"


def _notifications() -> rx.Component:
    return rx.box(
        rx.button(rx.icon("bell", size=16, aria_hidden="true"), "Notify me when a document is ready",
                  size="1", variant="soft", on_click=rx.call_script(_ASK_JS),
                  custom_attrs={"data-testid": "notify-enable"}),
        on_mount=rx.call_script(_NOTIFY_JS),
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
        _notifications(),
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
