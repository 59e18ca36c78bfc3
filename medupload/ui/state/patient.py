"""The patient's page: their documents, the live event list, uploads, retries, requirements.

Everything shown is derived from document rows and progress events (backend-only maps, never
sent to the browser) through ``viewmodels.build_card`` -> ``progress.stages.steps()``; the
follow task only adds to them, from the hub (snapshot, replay, live) or, while Redis is down,
from the database. What the browser gets is the cards, and only what changed: ``_absorb``
rebuilds the cards of the documents that changed and assigns a card list only if it differs
(Reflex sends a var whole whenever it is assigned). Cards in flight and finished cards are two
lists, so a live event re-sends the few cards in flight, not a returning patient's history; a
replay arrives as one batch and is applied in one push (nothing, if the snapshot had it all).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

import reflex as rx

from medupload.auth import Principal
from medupload.pipeline import accept, runner
from medupload.progress.stages import TERMINAL_STATUSES, message
from medupload.schemas import DocumentOut
from medupload.settings import get_settings
from medupload.ui import data, live
from medupload.ui.state.auth import AuthState
from medupload.ui.viewmodels import (
    CardView,
    RequirementView,
    absorb,
    arrange,
    build_card,
    fmt_date,
    is_known,
    requirement_views,
)

log = logging.getLogger(__name__)

UPLOAD_ID = "documents"
_CHUNK = 1 << 20
#: More new events than this in one batch is a catch-up (one push), not steps to show one by one.
LIVE_STEP_PUSHES = 12
_RESET_INPUT = "document.querySelectorAll('.mu-dropzone input[type=file]').forEach((i) => { i.value = ''; })"


class PatientState(AuthState):
    live_cards: list[CardView] = rx.field(default_factory=list)
    settled_cards: list[CardView] = rx.field(default_factory=list)
    has_documents: bool = False
    requirements: list[RequirementView] = rx.field(default_factory=list)
    notices: list[dict[str, str]] = rx.field(default_factory=list)
    # Two counters, not one "uploading" flag: start_upload's update travels on the socket and
    # handle_upload's in the /_upload response, so they can reach the tab in either order. A flag
    # set by one and cleared by the other is wrong whenever the start arrives last (the bar stuck
    # at "Sending…", the handler's notices wiped); counts each side only raises are right in
    # either order. The page compares them (ui/components/upload.py).
    # The drop zone's own limits, from the running server's settings (not the build's), so the
    # browser refuses exactly what the server would.
    upload_max_bytes: int = rx.field(default_factory=lambda: get_settings().max_upload_bytes)
    upload_max_files: int = rx.field(default_factory=lambda: get_settings().upload_max_files)
    uploads_started: int = 0
    uploads_finished: int = 0
    upload_pct: int = 0
    connection: str = "connecting"  # live | polling | connecting
    ready: bool = False
    _patient_id: str = ""
    _cursor: str = ""
    _documents: dict[str, dict[str, Any]] = rx.field(default_factory=dict)
    _events: dict[str, list[dict[str, Any]]] = rx.field(default_factory=dict)  # by document, seq order

    def _absorb(self, documents: Iterable[Mapping[str, Any]] = (),
                events: Iterable[Mapping[str, Any]] = ()) -> None:
        """Merge rows and events; re-send only the card list that changed (see the docstring)."""
        # The raw maps (not Reflex's change-tracking proxies), re-assigned below so they persist.
        known, history = self.get_value("_documents"), self.get_value("_events")
        changed = absorb(known, history, documents, events)
        if not changed:
            return
        self._documents, self._events = known, history
        cards = {card.id: card for card in [*self.live_cards, *self.settled_cards]}
        for doc_id in changed:
            cards[doc_id] = build_card(self._documents[doc_id], self._events.get(doc_id, ())) \
                if doc_id in self._documents else cards.get(doc_id)  # type: ignore[assignment]
        live_cards, settled_cards = arrange([c for c in cards.values() if c is not None], self._documents)
        if live_cards != list(self.live_cards):
            self.live_cards = live_cards
        if settled_cards != list(self.settled_cards):
            self.settled_cards = settled_cards
        if self.has_documents != bool(self._documents):
            self.has_documents = bool(self._documents)

    def _set_requirements(self, rows: Iterable[Any]) -> None:
        views = requirement_views(rows)
        if views != list(self.requirements):
            self.requirements = views

    # -- page load ---------------------------------------------------------------------------
    @rx.event
    async def load(self) -> Any:
        principal = self._admit("patient")
        if principal is None:
            return self._elsewhere()
        if self._patient_id != principal.patient_id:
            self._documents, self._events = {}, {}
            self.live_cards, self.settled_cards, self.has_documents = [], [], False
        self._patient_id = principal.patient_id
        # No upload outlives the page that sent it: a reload must not leave the bar "Sending…".
        self.uploads_finished = self.uploads_started
        settings = get_settings()
        self.upload_max_bytes, self.upload_max_files = settings.max_upload_bytes, settings.upload_max_files
        docs, events = await asyncio.to_thread(data.snapshot, principal.patient_id)
        self._absorb(docs, events)
        self._set_requirements(await asyncio.to_thread(data.requirements, principal.patient_id))
        self.ready = True
        return PatientState.follow

    # -- live updates -----------------------------------------------------------------------
    @rx.event(background=True)
    async def follow(self) -> Any:
        async with self:
            principal = self._principal()
            if principal is None or principal.role != "patient" or not principal.patient_id:
                return None
            patient_id = principal.patient_id
            token = self.router.session.client_token
            cursor = self._cursor or None
        live.claim(token)
        try:
            signed_in = await self._follow(token, patient_id, cursor, principal)
        finally:
            live.release(token)
        return None if signed_in else AuthState.session_ended

    async def _follow(self, token: str, patient_id: str, cursor: str | None, principal: Principal) -> bool:
        """Follow until the tab goes (True) or its session is revoked (False).

        load() has just read the snapshot; the replay (whole stream, or after the cursor) covers
        anything since, and while Redis is down the loop polls the database."""
        revoked = False

        async def still_allowed() -> bool:
            # Signed out or disabled elsewhere: stop within a tick (issue 8).
            nonlocal revoked
            revoked = not await self.still_signed_in(principal, token)
            return not revoked

        items = live.follow_batches(token, patient_id, cursor, still_allowed=still_allowed,
                                    snapshot_taken=True)
        async with contextlib.aclosing(items):
            async for item in items:
                if isinstance(item, live.Refresh):
                    await self._refresh(patient_id, requirements=item.full)
                elif isinstance(item, live.Connection):
                    await self._set_connection(item.state)
                elif isinstance(item, live.Batch) and await self._apply(item):
                    await self._refresh(patient_id, requirements=True)
        return not revoked

    async def _apply(self, batch: live.Batch) -> bool:
        """Apply a batch; True if the checklist may have changed.

        Events already shown (a replay after the snapshot) cost nothing. New events get a push
        each, so every step is seen moving even when two arrive together, unless there are more
        than LIVE_STEP_PUSHES of them (a catch-up after an outage): then one push for all.
        """
        events = [m.data for m in batch.messages if m.kind == "progress"]
        documents = [m.data for m in batch.messages if m.kind == "document_update"]
        cursor = next((m.id for m in reversed(batch.messages) if m.id), None)
        async with self:
            shown = self.get_value("_events")
            fresh = [e for e in events if not is_known(shown, e)]
        groups = [[e] for e in fresh] if len(fresh) <= LIVE_STEP_PUSHES else [fresh]
        for group in groups[:-1]:
            async with self:
                self._absorb((), group)
        async with self:
            self._absorb(documents, groups[-1] if groups else ())
            if cursor:
                self._cursor = cursor
        return any(m.kind in ("done", "reset", "requirements_update") for m in batch.messages)

    async def _refresh(self, patient_id: str, *, requirements: bool = False) -> None:
        docs, events = await asyncio.to_thread(data.snapshot, patient_id)
        if not requirements:
            # A document that finished (or restarted) since the last look can change the checklist:
            # while Redis is down no ``done`` arrives, so this snapshot is the only one to notice.
            async with self:
                finished_before = _finished(self._documents.values())
            requirements = _finished(docs) != finished_before
        reqs = await asyncio.to_thread(data.requirements, patient_id) if requirements else None
        async with self:
            self._absorb(docs, events)
            if reqs is not None:
                self._set_requirements(reqs)

    async def _set_connection(self, value: str) -> None:
        async with self:
            if self.connection != value:
                self.connection = value

    # -- uploads -----------------------------------------------------------------------------
    def _uploading(self) -> bool:
        return self.uploads_started > self.uploads_finished

    @rx.event
    def start_upload(self) -> None:
        # Notices are the handler's to clear: a late start must not wipe the ones it just set.
        self.uploads_started += 1
        self.upload_pct = 0

    @rx.event
    def upload_progress(self, progress: dict[str, Any]) -> None:
        # Progress events queue behind the upload handler; a late one must not reopen the bar.
        if self._uploading():
            self.upload_pct = min(100, round(float(progress.get("progress", 0) or 0) * 100))

    @rx.event
    def files_rejected(self, rejections: list[dict[str, Any]]) -> None:
        """The drop zone refused files before sending them (over the size limit, a type we do not
        read, too many at once): say which and why, as the server would. Saves a patient on a phone
        sending 40 MB to hear it was too large; the server still checks everything it is sent."""
        if self._principal() is None:
            return
        settings = get_settings()
        if any("too-many-files" in _rejection_codes(r) for r in rejections):
            code = "error.upload_too_large"
            self.notices = [{"kind": "error", "code": code, "document_id": "", "text": message(
                code, files=settings.upload_max_files, limit_mb=settings.max_upload_mb)}]
            return
        notices = []
        for rejection in rejections[: settings.upload_max_files]:
            raw = rejection.get("name") if isinstance(rejection, Mapping) else None
            name = str(raw or "file").rsplit("/", 1)[-1][:200]
            if "file-too-large" in _rejection_codes(rejection):
                code, numbers = "error.too_large", {"limit_mb": settings.max_upload_mb}
            else:
                code, numbers = "error.unsupported_type", {}
            notices.append({"kind": "error", "text": f"{name}: {message(code, **numbers)}",
                            "code": code, "document_id": ""})
        self.notices = notices

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]) -> AsyncIterator[Any]:
        principal = self._principal()
        if principal is None or principal.role != "patient" or not principal.patient_id:
            yield rx.redirect("/login")
            return
        patient_id = principal.patient_id
        self.notices = []
        try:
            for upload in files:
                name = (upload.filename or "upload").rsplit("/", 1)[-1]
                document: DocumentOut | None = None
                try:
                    accepted = await asyncio.to_thread(
                        accept.accept_upload, patient_id, name, _chunks(upload.file.read), actor=principal
                    )
                    document = accepted.document
                except accept.UploadRejected as exc:
                    # 415/422 keep a failed document (its card shows the step and Retry); 413 none.
                    document = exc.document
                    self.notices.append(
                        {
                            "kind": "error",
                            "text": f"{name}: {message(exc.code, **exc.numbers)}",
                            "code": exc.code,
                            "document_id": document.id if document is not None else "",
                        }
                    )
                    accepted = None
                if document is not None:
                    doc = document.model_dump(mode="json")
                    # The upload_received row is committed by now: show the first step at once.
                    self._absorb([doc], await asyncio.to_thread(data.events, patient_id, doc["id"]))
                if accepted is not None and accepted.duplicate:
                    first_upload = fmt_date(accepted.document.created_at)
                    self.notices.append(
                        {
                            "kind": "duplicate",
                            "text": f"You already uploaded this file on {first_upload}.",
                            "code": "upload.duplicate",
                            "document_id": accepted.document.id,
                        }
                    )
                    yield
                elif accepted is not None:
                    # Each card shows (and starts processing) as soon as its file is in.
                    yield PatientState.process(accepted.document.id)
                else:
                    yield
        finally:
            # Whatever happened to the files, this upload is over: the bar stops, Upload works again.
            self.uploads_finished += 1
            self.upload_pct = 100
        # Empty the file input too, or picking the same file again fires no change event.
        yield [rx.clear_selected_files(UPLOAD_ID), rx.call_script(_RESET_INPUT)]

    @rx.event(background=True)
    async def process(self, document_id: str) -> None:
        async with self:
            if not self._owns(document_id):
                return
        await _call(runner.confirm_upload, document_id)

    @rx.event(background=True)
    async def retry(self, document_id: str) -> None:
        async with self:
            principal = self._principal()
            if principal is None or not self._owns(document_id):
                return
            self.notices = []
        try:
            await _call(functools.partial(runner.retry_document, actor=principal), document_id)
        except runner.RetryConflict:
            async with self:
                self.notices = [
                    {
                        "kind": "error",
                        "text": message("conflict.processing"),
                        "code": "conflict.processing",
                        "document_id": document_id,
                    }
                ]

    @rx.event
    def dismiss_notices(self) -> None:
        self.notices = []

    def _owns(self, document_id: str) -> bool:
        principal = self._principal()
        if principal is None or principal.patient_id is None:
            return False
        doc = self._documents.get(document_id)
        return doc is not None and doc.get("patient_id") == principal.patient_id


def _finished(documents: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    return {(str(d["id"]), str(d.get("status"))) for d in documents if d.get("status") in TERMINAL_STATUSES}


def _rejection_codes(rejection: Mapping[str, Any]) -> set[str]:
    """react-dropzone's error codes of one refused file ("file-too-large", "file-invalid-type")."""
    codes = rejection.get("codes") if isinstance(rejection, Mapping) else None
    return {str(code) for code in codes or () if isinstance(code, str)}


def _chunks(read: Callable[[int], bytes]) -> Iterator[bytes]:
    while chunk := read(_CHUNK):
        yield chunk


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a runner entry point whether it is a coroutine function or blocking."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    return await asyncio.to_thread(fn, *args)
