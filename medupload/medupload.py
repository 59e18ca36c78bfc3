"""The Reflex app: /login, /patient, /staff, with the REST/SSE API on the same server."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator

import reflex as rx
from fastapi import FastAPI

from medupload.api import API_PREFIX, create_api
from medupload.api.deps import StaffDep
from medupload.pipeline import runner
from medupload.progress.hub import get_hub
from medupload.ui import live
from medupload.ui.pages.document import document_page
from medupload.ui.pages.login import login_page
from medupload.ui.pages.patient import patient_page
from medupload.ui.pages.staff import staff_page
from medupload.ui.pages.staff_patient import staff_patient_page
from medupload.ui.state.auth import AuthState
from medupload.ui.state.document import DocumentState
from medupload.ui.state.patient import PatientState
from medupload.ui.state.review import StaffPatientState
from medupload.ui.state.staff import StaffState

log = logging.getLogger(__name__)


def _api() -> FastAPI:
    api = create_api()

    # Here, not in api/, because it reports on the UI's follow tasks (api/ may not import ui/).
    @api.get(f"{API_PREFIX}/ui/live", include_in_schema=False)
    async def live_counts(_staff: StaffDep) -> dict[str, int]:
        """Live-follow tasks and hub subscriptions of this process: closed tabs leave none."""
        return live.counts()

    return api


@contextlib.asynccontextmanager
async def _lifespan() -> AsyncIterator[None]:
    # Documents left mid-pipeline by a crash are re-queued (or failed) by the runner's watchdog.
    stop = threading.Event()
    runner.start_watchdog(stop=stop)
    try:
        yield
    finally:
        stop.set()
        await get_hub().close()


app = rx.App(
    api_transformer=_api(),
    stylesheets=["/medupload.css"],
)
app.add_page(login_page, route="/login", title="Sign in · MedUpload", on_load=AuthState.redirect_if_signed_in)
app.add_page(patient_page, route="/patient", title="My documents · MedUpload", on_load=PatientState.load)
app.add_page(staff_page, route="/staff", title="Clinic dashboard · MedUpload", on_load=StaffState.load)
app.add_page(staff_patient_page, route="/staff/patients/[pid]", title="Patient · MedUpload",
             on_load=StaffPatientState.load)
app.add_page(document_page, route="/documents/[did]", title="Document · MedUpload",
             on_load=DocumentState.load)
app.add_page(lambda: rx.fragment(), route="/", on_load=AuthState.redirect_if_signed_in_else_login)
app.register_lifespan_task(_lifespan)
