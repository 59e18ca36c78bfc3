"""The document view's event handlers are public endpoints: each re-reads who is asking from the
session cookie. A patient's call to a change handler changes nothing; staff's does (real DB)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from support import make_patient, make_user
from test_review import _document, _fact

from medupload.auth import create_access_token, decode_access_token
from medupload.db import session_scope
from medupload.models import Fact
from medupload.progress.stages import message


def _document_state(token: str, document_id: str) -> Any:
    from reflex.istate.data import RouterData
    from reflex.state import State

    import medupload.medupload  # noqa: F401  (registers the pages and their route arguments)
    from medupload.ui.state.auth import AuthState
    from medupload.ui.state.document import DocumentState

    root = State(_reflex_internal_init=True)  # type: ignore[call-arg]
    router_data = {"pathname": "/documents/[did]", "query": {"did": document_id},
                   "asPath": f"/documents/{document_id}", "headers": {}}
    root.router_data = router_data
    root.router = RouterData.from_router_data(router_data)
    state = root.get_substate(DocumentState.get_full_name().split(".")[1:])
    # What SessionGuard keeps after verifying the cookie of the socket's handshake.
    auth = root.get_substate(AuthState.get_full_name().split(".")[1:])
    auth._session = dataclasses.asdict(decode_access_token(token))
    return state


def _run(handler: Any, state: Any, *args: Any) -> Any:
    result = handler.fn(state, *args)
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


@pytest.fixture
def setup(fresh_db: str) -> tuple[str, str, int]:
    pid = make_patient()
    did = _document(pid)
    fid = _fact(did, pid, "lab", "hemoglobin a1c", value=None, date="2026-11-15", confidence=0.3)
    return pid, did, fid


def _status(fid: int) -> str:
    with session_scope() as session:
        fact = session.get(Fact, fid)
        assert fact is not None
        return fact.status


def test_patient_handler_calls_are_refused(setup: tuple[str, str, int]) -> None:
    from medupload.ui.state.document import DocumentState

    pid, did, fid = setup
    patient = make_user("patient", pid)
    state = _document_state(create_access_token(patient)[0], did)
    assert _run(DocumentState.load, state) is None and state.ready and not state.is_staff
    assert state.groups and state.groups[0].facts[0].id == fid  # they may read their own

    for handler, args in ((DocumentState.confirm, (fid,)), (DocumentState.reject, (fid,)),
                          (DocumentState.start_edit, (fid,)), (DocumentState.start_add, ())):
        state.error = ""
        _run(handler, state, *args)
        assert state.error == message("auth.forbidden"), handler
    state.editing = fid  # as if a forged client set it
    _run(DocumentState.save_edit, state, {"value": "9.9"})
    _run(DocumentState.save_add, state, {"concept": "glucose", "value": "1"})
    assert _status(fid) == "extracted"
    with session_scope() as session:
        assert len(session.query(Fact).all()) == 1


def test_another_patient_cannot_open_the_document(setup: tuple[str, str, int]) -> None:
    from medupload.ui.state.document import DocumentState

    _, did, _ = setup
    stranger = make_user("patient", make_patient("stranger"))
    state = _document_state(create_access_token(stranger)[0], did)
    _run(DocumentState.load, state)
    assert not state.ready and state.groups == [] and state.filename == ""


def test_staff_handler_changes_the_fact(setup: tuple[str, str, int]) -> None:
    from medupload.ui.state.document import DocumentState

    _, did, fid = setup
    staff = make_user("staff", None)
    state = _document_state(create_access_token(staff)[0], did)
    _run(DocumentState.load, state)
    assert state.is_staff
    _run(DocumentState.start_edit, state, fid)
    assert state.editing == fid
    _run(DocumentState.save_edit, state, {"value": "7.2", "unit": "%", "date": "2026-11-15"})
    assert state.error == "" and _status(fid) == "corrected"
    assert state.groups[0].facts[0].status == "corrected"
    assert state.reviewed.startswith("Reviewed by the clinic")
    _run(DocumentState.reject, state, fid)
    assert _status(fid) == "rejected"


def test_showing_a_fact_marks_its_page_or_says_it_has_no_location(setup: tuple[str, str, int]) -> None:
    from medupload.ui.state.document import DocumentState

    pid, did, unlocated = setup
    located = _fact(did, pid, "condition", "asthma", page=1, bbox=[0.1, 0.3, 0.2, 0.03])
    patient = make_user("patient", pid)  # the document's owner may look too: nothing changes
    state = _document_state(create_access_token(patient)[0], did)
    _run(DocumentState.load, state)
    assert state.highlight.page == 0  # nothing selected yet

    _run(DocumentState.show_fact, state, located)
    assert state.selected == located and state.notice == "Shown on page 1."
    highlight = state.highlight
    assert (highlight.page, highlight.left, highlight.top) == (1, "9.600%", "29.600%")
    assert highlight.label == "Condition on page 1"  # the kind, not the finding

    _run(DocumentState.show_fact, state, unlocated)
    assert state.selected == unlocated and state.highlight.page == 0
    assert state.notice == "Location not available for this finding."
    _run(DocumentState.show_fact, state, 999_999)  # not on this document: nothing changes
    assert state.selected == unlocated
