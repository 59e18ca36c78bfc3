"""The patient's page: their documents, the live event list, uploads, retries, requirements.

Everything shown is derived from two lists (document rows and progress events) through
``viewmodels.build_cards`` -> ``progress.stages.steps()``; the follow task only appends to
them, from the hub (snapshot, replay, live) or, while Redis is down, from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import reflex as rx

from medupload.pipeline import runner
from medupload.progress.stages import message
from medupload.schemas import DocumentOut
from medupload.ui import data, live
from medupload.ui.state.auth import HOME, AuthState
from medupload.ui.viewmodels import (
    CardView,
    RequirementView,
    build_cards,
    fmt_date,
    merge_documents,
    merge_events,
    requirement_views,
)

log = logging.getLogger(__name__)

UPLOAD_ID = "documents"
_CHUNK = 1 << 20
_TERMINAL = ("processed", "failed")
_RESET_INPUT = "document.querySelectorAll('.mu-dropzone input[type=file]').forEach((i) => { i.value = ''; })"


class PatientState(AuthState):
    documents: list[dict[str, Any]] = rx.field(default_factory=list)
    events: list[dict[str, Any]] = rx.field(default_factory=list)
    requirements: list[RequirementView] = rx.field(default_factory=list)
    notices: list[dict[str, str]] = rx.field(default_factory=list)
    uploading: bool = False
    upload_pct: int = 0
    connection: str = "connecting"  # live | polling | connecting
    ready: bool = False
    _patient_id: str = ""
    _cursor: str = ""

    @rx.var
    def cards(self) -> list[CardView]:
        return build_cards(self.documents, self.events)

    @rx.var
    def has_documents(self) -> bool:
        return len(self.documents) > 0

    # -- page load ---------------------------------------------------------------------------
    @rx.event
    async def load(self) -> Any:
        principal = self._principal()
        if principal is None:
            return rx.redirect("/login")
        if principal.role != "patient" or not principal.patient_id:
            return rx.redirect(HOME.get(principal.role, "/login"))
        self._patient_id = principal.patient_id
        docs, events = await asyncio.to_thread(data.snapshot, principal.patient_id)
        self.documents = merge_documents([], docs)
        self.events = merge_events([], events)
        self.requirements = requirement_views(
            await asyncio.to_thread(data.requirements, principal.patient_id)
        )
        self.ready = True
        return PatientState.follow

    # -- live updates -----------------------------------------------------------------------
    @rx.event(background=True)
    async def follow(self) -> None:
        async with self:
            principal = self._principal()
            if principal is None or principal.role != "patient" or not principal.patient_id:
                return
            patient_id = principal.patient_id
            token = self.router.session.client_token
            cursor = self._cursor or None
        live.claim(token)
        try:
            await self._follow(token, patient_id, cursor)
        finally:
            live.release(token)

    async def _follow(self, token: str, patient_id: str, cursor: str | None) -> None:
        async with contextlib.aclosing(live.follow(token, patient_id, cursor)) as items:
            async for item in items:
                if isinstance(item, live.Refresh):
                    await self._refresh(patient_id, requirements=item.full)
                elif isinstance(item, live.Connection):
                    await self._set_connection(item.state)
                elif isinstance(item, live.Tick):
                    continue
                elif item.kind == "progress":
                    await self._apply(events=[item.data], cursor=item.id)
                elif item.kind == "document_update":
                    await self._apply(documents=[item.data], cursor=item.id)
                elif item.kind == "done" or item.kind == "requirements_update":
                    await self._apply(cursor=item.id)
                    await self._refresh(patient_id, requirements=True)

    async def _apply(
        self,
        *,
        events: list[dict[str, Any]] | None = None,
        documents: list[dict[str, Any]] | None = None,
        cursor: str | None = None,
    ) -> None:
        async with self:
            if events:
                self.events = merge_events(self.events, events)
            if documents:
                self.documents = merge_documents(self.documents, documents)
            if cursor:
                self._cursor = cursor

    async def _refresh(self, patient_id: str, *, requirements: bool = False) -> None:
        docs, events = await asyncio.to_thread(data.snapshot, patient_id)
        if not requirements:
            # A document that finished (or restarted) since the last look can change the checklist:
            # while Redis is down no ``done`` arrives, so this snapshot is the only one to notice.
            async with self:
                finished_before = _finished(self.documents)
            requirements = _finished(docs) != finished_before
        reqs = await asyncio.to_thread(data.requirements, patient_id) if requirements else None
        async with self:
            self.documents = merge_documents(self.documents, docs)
            self.events = merge_events(self.events, events)
            if reqs is not None:
                self.requirements = requirement_views(reqs)

    async def _set_connection(self, value: str) -> None:
        async with self:
            self.connection = value

    # -- uploads -----------------------------------------------------------------------------
    @rx.event
    def start_upload(self) -> None:
        self.uploading = True
        self.upload_pct = 0
        self.notices = []

    @rx.event
    def upload_progress(self, progress: dict[str, Any]) -> None:
        # Progress events queue behind the upload handler; a late one must not reopen the bar.
        if self.uploading:
            self.upload_pct = min(100, round(float(progress.get("progress", 0) or 0) * 100))

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]) -> AsyncIterator[Any]:
        principal = self._principal()
        if principal is None or principal.role != "patient" or not principal.patient_id:
            yield rx.redirect("/login")
            return
        patient_id = principal.patient_id
        self.notices = []
        for upload in files:
            name = (upload.filename or "upload").rsplit("/", 1)[-1]
            document: DocumentOut | None = None
            try:
                accepted = await asyncio.to_thread(
                    runner.accept_upload, patient_id, name, _chunks(upload.file.read)
                )
                document = accepted.document
            except runner.UploadRejected as exc:
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
                self.documents = merge_documents(self.documents, [doc])
                # The upload_received row is committed by now: show the first step at once.
                self.events = merge_events(
                    self.events, await asyncio.to_thread(data.events, patient_id, doc["id"])
                )
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
        self.uploading = False
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
            if not self._owns(document_id):
                return
            self.notices = []
        try:
            await _call(runner.retry_document, document_id)
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
        return any(d["id"] == document_id and d["patient_id"] == principal.patient_id for d in self.documents)


def _finished(documents: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(str(d["id"]), str(d.get("status"))) for d in documents if d.get("status") in _TERMINAL}


def _chunks(read: Callable[[int], bytes]) -> Iterator[bytes]:
    while chunk := read(_CHUNK):
        yield chunk


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a runner entry point whether it is a coroutine function or blocking."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    return await asyncio.to_thread(fn, *args)
