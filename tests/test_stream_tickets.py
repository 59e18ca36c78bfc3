"""Renewable stream credential (issue 8): a stream opened with a one-time ``?ticket=`` hands out
follow-up tickets (``event: ticket``) so an EventSource client can reopen it after the server's
periodic close; the spent ticket stays refused. Real uvicorn server, real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import make_document, make_patient, reset_caches
from test_stream import Event, LiveServer, sse

from medupload import redis_client, sessions
from medupload.__main__ import add_user
from medupload.db import session_scope
from medupload.progress import tracing
from medupload.progress.emitter import emit_progress_async
from medupload.progress.stages import Stage

PASSWORD = "ticket-user-password"


@pytest.fixture
def server(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    tracing.set_langfuse(None)
    sessions.forget_cached()
    # The server closes each stream after 2 s, standing in for the 5-minute close.
    monkeypatch.setenv("MEDUPLOAD_STREAM_MAX_SECONDS", "2")
    reset_caches()
    live = LiveServer()
    live.start()
    yield live
    live.stop()
    tracing.reset_langfuse()
    redis_client._async_clients.clear()


@pytest.fixture
def patient(server: LiveServer) -> tuple[str, str]:
    """(patient id, bearer token) for a patient account signed in over the API."""
    with session_scope() as session:
        _, patient_id = add_user(session, username="tia", password=PASSWORD, role="patient")
    assert patient_id is not None
    response = httpx.post(f"{server.base}/api/v1/auth/token", json={"username": "tia", "password": PASSWORD})
    return patient_id, str(response.json()["access_token"])


async def _ticket(server: LiveServer, patient_id: str, token: str) -> str:
    response = httpx.post(f"{server.base}/api/v1/auth/stream-ticket", json={"patient_id": patient_id},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return str(response.json()["ticket"])


async def _read_until_closed(server: LiveServer, patient_id: str, **params: Any) -> tuple[int, list[Event]]:
    url = f"{server.base}/api/v1/patients/{patient_id}/documents/stream"
    events: list[Event] = []
    async with httpx.AsyncClient(timeout=20) as client, client.stream("GET", url, params=params) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code, [Event("error", None, response.text)]
        async with asyncio.timeout(20):
            async for event in sse(response):
                events.append(event)
    return 200, events


async def test_follow_up_tickets_keep_an_eventsource_client_going(
        server: LiveServer, patient: tuple[str, str]) -> None:
    patient_id, token = patient
    document_id = make_document(patient_id)
    first = await _ticket(server, patient_id, token)
    await emit_progress_async(document_id, Stage.OCR_STARTED, "ocr.started")

    status, events = await _read_until_closed(server, patient_id, ticket=first)
    assert status == 200
    kinds = [e.event for e in events]
    assert kinds[:3] == ["retry", "snapshot", "ticket"]  # one on connect ...
    assert "progress" in kinds
    assert kinds[-1] == "ticket"  # ... and one just before the server closes
    follow_up = events[-1].json()
    assert follow_up["expires_in"] == 60 and follow_up["ticket"] != first
    assert events[2].json()["ticket"] not in (first, follow_up["ticket"])

    # What the issue saw: the spent ticket (EventSource's automatic reconnect) is refused.
    status, refused = await _read_until_closed(server, patient_id, ticket=first)
    assert status == 401 and '"auth.ticket_invalid"' in refused[0].data

    # Progress while the client was away; it reopens with the follow-up ticket and its last id.
    last_id = [e.id for e in events if e.event == "progress"][-1]
    await emit_progress_async(document_id, Stage.OCR_COMPLETE, "ocr.done", numbers={"pages": 1})
    status, resumed = await _read_until_closed(server, patient_id, ticket=follow_up["ticket"],
                                               last_event_id=last_id)
    assert status == 200
    progress = [e.json() for e in resumed if e.event == "progress"]
    assert [(p["document_id"], p["stage"]) for p in progress] == [(document_id, "ocr_complete")]
    assert resumed[-1].event == "ticket"

    # Each follow-up is one-time too, and bound to its patient.
    status, _ = await _read_until_closed(server, patient_id, ticket=follow_up["ticket"])
    assert status == 401
    other_patient = make_patient()
    status, _ = await _read_until_closed(server, other_patient, ticket=resumed[-1].json()["ticket"])
    assert status == 401


async def test_follow_up_tickets_end_with_the_session(server: LiveServer, patient: tuple[str, str]) -> None:
    patient_id, token = patient
    first = await _ticket(server, patient_id, token)
    status, events = await _read_until_closed(server, patient_id, ticket=first)
    follow_up = events[-1].json()["ticket"]
    logout = httpx.post(f"{server.base}/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert logout.status_code == 204
    status, refused = await _read_until_closed(server, patient_id, ticket=follow_up)
    assert status == 401 and '"auth.revoked"' in refused[0].data


async def test_header_and_cookie_streams_get_no_tickets(server: LiveServer, patient: tuple[str, str]) -> None:
    patient_id, token = patient
    url = f"{server.base}/api/v1/patients/{patient_id}/documents/stream"
    async with httpx.AsyncClient(timeout=20) as client, client.stream(
            "GET", url, headers={"Authorization": f"Bearer {token}"}) as response:
        events = [event async for event in sse(response)]
    assert events[1].event == "snapshot"
    assert "ticket" not in [e.event for e in events]




async def test_tickets_are_renewed_before_they_run_out(server: LiveServer, patient: tuple[str, str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from medupload.api import stream

    monkeypatch.setattr(stream, "TICKET_RENEW_SECONDS", 0.5)  # 45 s in production, for 60 s tickets
    patient_id, token = patient
    first = await _ticket(server, patient_id, token)
    status, events = await _read_until_closed(server, patient_id, ticket=first)
    tickets = [e.json()["ticket"] for e in events if e.event == "ticket"]
    assert status == 200 and len(tickets) >= 4  # on connect, ~every 0.5 s over 2 s, and at the close
    assert len(set(tickets)) == len(tickets)
