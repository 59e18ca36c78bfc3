"""``ui.viewmodels``: card updates by document (what changed is rebuilt, nothing else), no browser needed."""

from __future__ import annotations

from typing import Any

from medupload.ui.viewmodels import absorb, arrange, build_card

STAGES = [("upload_received", "upload.received"), ("ocr_started", "ocr.started"),
          ("ocr_complete", "ocr.done"), ("analysis_started", "analysis.started"),
          ("analysis_complete", "analysis.done"), ("matching_complete", "matching.done")]


def doc(doc_id: str, status: str, created: str, updated: str = "2026-11-28T12:00:00+00:00") -> dict[str, Any]:
    return {"id": doc_id, "patient_id": "p_1", "filename": f"{doc_id}.pdf", "status": status,
            "created_at": created, "updated_at": updated}


def event(doc_id: str, seq: int) -> dict[str, Any]:
    stage, code = STAGES[seq - 1]
    return {"patient_id": "p_1", "document_id": doc_id, "seq": seq, "stage": stage, "code": code,
            "detail": "x", "fraction": seq / 6, "at": "2026-11-28T12:00:00Z", "elapsed_ms": seq * 100}


def test_absorb_reports_only_what_changed() -> None:
    documents: dict[str, dict[str, Any]] = {}
    events: dict[str, list[dict[str, Any]]] = {}
    rows = [doc("d_a", "processed", "2026-11-01"), doc("d_b", "processing", "2026-11-02")]
    assert absorb(documents, events, rows, [event("d_a", s) for s in range(1, 7)]) == {"d_a", "d_b"}
    # The same snapshot and a replay of known events change nothing: no card is rebuilt.
    assert absorb(documents, events, rows, [event("d_a", s) for s in range(1, 7)]) == set()
    # One new event: one card.
    assert absorb(documents, events, [], [event("d_b", 1)]) == {"d_b"}
    assert [e["seq"] for e in events["d_a"]] == [1, 2, 3, 4, 5, 6]


def test_absorb_keeps_the_newer_row_and_orders_events_by_seq() -> None:
    documents = {"d_a": doc("d_a", "processed", "2026-11-01", updated="2026-11-28T12:00:05+00:00")}
    events: dict[str, list[dict[str, Any]]] = {}
    stale = doc("d_a", "processing", "2026-11-01", updated="2026-11-28T12:00:01+00:00")
    assert absorb(documents, events, [stale]) == set()
    assert documents["d_a"]["status"] == "processed"
    assert absorb(documents, events, [], [event("d_a", 3), event("d_a", 1), event("d_a", 2)]) == {"d_a"}
    assert [e["seq"] for e in events["d_a"]] == [1, 2, 3]


def test_arrange_puts_cards_in_flight_first_each_newest_first() -> None:
    documents = {d["id"]: d for d in [doc("d_old", "processed", "2026-11-01"),
                                      doc("d_new", "processed", "2026-11-03"),
                                      doc("d_run", "processing", "2026-11-02"),
                                      doc("d_bad", "failed", "2026-11-04")]}
    cards = [build_card(d, []) for d in documents.values()]
    live, settled = arrange(cards, documents)
    assert [c.id for c in live] == ["d_run"]
    assert [c.id for c in settled] == ["d_bad", "d_new", "d_old"]


def test_build_card_follows_the_events_and_the_row() -> None:
    row = doc("d_a", "processing", "2026-11-01")
    card = build_card(row, [event("d_a", 1), event("d_a", 2)])
    states = {s.stage: s.state for s in card.steps}
    assert [states[s] for s, _ in STAGES[:3]] == ["done", "done", "active"]
    assert states["matching_complete"] == "pending" and card.running and card.testid == "document-d_a"
    # Events lost (Redis down) but the row says processed: every step shows done.
    finished = build_card(doc("d_a", "processed", "2026-11-01"), [event("d_a", 1)])
    assert all(s.state == "done" for s in finished.steps) and not finished.running
