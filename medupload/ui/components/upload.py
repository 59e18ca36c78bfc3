"""The upload box: drop or pick several files (keyboard: Tab to the box, Enter or Space), then
Upload. A byte progress bar runs while the files travel."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import EventSpec
from reflex.vars import ArrayVar, ObjectVar, Var

from medupload.ui.state.patient import UPLOAD_ID, PatientState
from medupload.ui.viewmodels import ACCEPT_TYPES

_selected = rx.selected_files(UPLOAD_ID)
# Compared in the browser: the two counts reach the tab on different channels, in either order
# (PatientState); a server-computed flag would be overwritten by whichever arrived last.
_uploading = PatientState.uploads_started > PatientState.uploads_finished
# A progress update that arrives after the upload's end must not turn "Sent 100%" back.
_shown_pct = rx.cond(_uploading, PatientState.upload_pct, 100)


def _refused(rejections: ArrayVar) -> EventSpec:
    """Each refused file's name and react-dropzone's reasons, not the file itself: the File would
    travel on the socket as a binary attachment (megabytes over the socket's frame limit)."""

    def plain(rejection: ObjectVar) -> Var:
        rejection = rejection.to(ObjectVar, dict[str, Any])
        file = rejection["file"].to(ObjectVar, dict[str, Any])
        codes = rejection["errors"].to(ArrayVar, list[dict[str, Any]]).map(lambda error: error["code"])
        return Var.create({"name": file["path"].to(str), "codes": codes})

    return PatientState.files_rejected(rejections.to(ArrayVar, list[dict[str, Any]]).map(plain))


def upload_box() -> rx.Component:
    return rx.vstack(
        rx.upload.root(
            rx.vstack(
                rx.icon("upload", size=28, aria_hidden="true"),
                rx.text("Drop files here, or press to choose", weight="medium"),
                rx.text("PDF, PNG, JPEG, TIFF or HEIC. You can pick several.", size="1", color_scheme="gray"),
                align="center",
                spacing="1",
            ),
            id=UPLOAD_ID,
            accept=ACCEPT_TYPES,
            multiple=True,
            # What the /_upload gate lets one request carry (web/perimeter.py), checked here
            # first so a refused file is never sent (and the page never waits on a refused POST).
            max_files=PatientState.upload_max_files,
            max_size=PatientState.upload_max_bytes,
            on_drop_rejected=_refused,
            class_name="mu-dropzone",
            custom_attrs={
                "data-testid": "upload-dropzone",
                "aria-label": "Choose documents to upload",
                "role": "button",
            },
        ),
        rx.cond(
            _selected.length() > 0,  # type: ignore[attr-defined]
            rx.el.ul(
                rx.foreach(_selected, lambda name: rx.el.li(rx.text(name, size="2"))),
                aria_label="Selected files",
                class_name="mu-selected",
            ),
        ),
        rx.hstack(
            rx.button(
                rx.icon("upload", size=16),
                "Upload",
                on_click=[
                    PatientState.start_upload,
                    PatientState.handle_upload(
                        rx.upload_files(upload_id=UPLOAD_ID, on_upload_progress=PatientState.upload_progress)
                    ),
                ],
                disabled=_uploading | (_selected.length() == 0),  # type: ignore[attr-defined]
                loading=_uploading,
                custom_attrs={"data-testid": "upload-submit"},
            ),
            rx.cond(
                _selected.length() > 0,  # type: ignore[attr-defined]
                rx.button(
                    "Clear", variant="soft", color_scheme="gray", on_click=rx.clear_selected_files(UPLOAD_ID)
                ),
            ),
            spacing="2",
        ),
        rx.cond(
            PatientState.uploads_started > 0,
            rx.vstack(
                rx.progress(
                    value=_shown_pct,
                    max=100,
                    width="100%",
                    custom_attrs={
                        "data-testid": "upload-progress",
                        "data-value": _shown_pct,
                        "aria-label": "Upload progress",
                    },
                ),
                rx.text(
                    rx.cond(_uploading, "Sending… ", "Sent "),
                    _shown_pct,
                    "%",
                    size="1",
                    color_scheme="gray",
                    aria_live="polite",
                ),
                width="100%",
                spacing="1",
            ),
        ),
        width="100%",
        spacing="3",
    )
