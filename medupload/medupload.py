"""The Reflex app: /login, /patient, /staff, with the REST/SSE API on the same server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator

import reflex as rx
from fastapi import FastAPI
from reflex.utils.prerequisites import get_states_dir

from medupload import gctune, shutdown
from medupload.api import API_PREFIX, create_api
from medupload.api.deps import StaffDep
from medupload.fsmodes import private_tree, restrict_process
from medupload.pipeline import recovery
from medupload.progress.hub import get_hub
from medupload.settings import get_settings
from medupload.ui import live
from medupload.ui.pages.document import document_page
from medupload.ui.pages.login import login_page
from medupload.ui.pages.patient import patient_page
from medupload.ui.pages.staff import staff_page
from medupload.ui.pages.staff_patient import staff_patient_page
from medupload.ui.state.auth import AuthState, SessionGuard
from medupload.ui.state.document import DocumentState
from medupload.ui.state.patient import PatientState
from medupload.ui.state.review import StaffPatientState
from medupload.ui.state.staff import StaffState
from medupload.web.perimeter import Perimeter

log = logging.getLogger(__name__)

# Before anything is written: Reflex pickles UI state (tokens, PHI) under .states, we write uploads
# and the database. Files from an earlier run are put right too.
restrict_process()
private_tree(get_states_dir())


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
    # Documents left mid-pipeline by a crash are re-queued (or failed): a dead owner's at once,
    # silent ones by the watchdog.
    stop = threading.Event()
    recovery.start_watchdog(stop=stop)
    shutdown.install()  # SIGTERM: streams get ``retry`` and close, tabs reconnect to another process
    heap = asyncio.get_running_loop().create_task(
        gctune.keep_heap_frozen(get_settings().gc_freeze), name="gc-freeze")
    try:
        yield
    finally:
        heap.cancel()
        stop.set()
        await get_hub().close()


app = rx.App(
    # The API is mounted around Reflex's own routes; the perimeter then wraps all of it, pages included.
    api_transformer=[_api(), Perimeter],
    stylesheets=["/medupload.css"],
)
# Before every event (hydrate included): who is asking, from the cookie; PHI cleared if nobody.
app.add_middleware(SessionGuard(), index=0)
app.add_page(login_page, route="/login", title="Sign in · MedUpload", on_load=AuthState.redirect_if_signed_in)
app.add_page(patient_page, route="/patient", title="My documents · MedUpload", on_load=PatientState.load)
app.add_page(staff_page, route="/staff", title="Clinic dashboard · MedUpload", on_load=StaffState.load)
app.add_page(staff_patient_page, route="/staff/patients/[pid]", title="Patient · MedUpload",
             on_load=StaffPatientState.load)
app.add_page(document_page, route="/documents/[did]", title="Document · MedUpload",
             on_load=DocumentState.load)
app.add_page(lambda: rx.fragment(), route="/", on_load=AuthState.redirect_if_signed_in_else_login)
app.register_lifespan_task(_lifespan)
