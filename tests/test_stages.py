"""steps(): the indicator as a pure function of the event list, checked exhaustively."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from medupload.progress.stages import (
    IN_FLIGHT_STATUSES,
    MESSAGES,
    STEPS,
    TERMINAL_STATUSES,
    DocumentStatus,
    ProgressEvent,
    Stage,
    message,
    steps,
)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def ev(seq: int, stage: Stage, code: str = "ocr.started", failed_stage: Stage | None = None,
       **numbers: int) -> ProgressEvent:
    return ProgressEvent(patient_id="p_1", document_id="d_1", seq=seq, stage=stage, code=code,
                         detail=message(code, **numbers), fraction=0.5, at=T0 + timedelta(seconds=seq),
                         elapsed_ms=seq * 1000, failed_stage=failed_stage)


def run(stages: list[Stage]) -> list[ProgressEvent]:
    return [ev(i + 1, stage) for i, stage in enumerate(stages)]


def states(events: list[ProgressEvent]) -> list[str]:
    return [step.state for step in steps(events)]


def expected(done: int, tail: str) -> list[str]:
    """``done`` steps done, then one ``tail`` step (active/failed), then pending."""
    if done >= len(STEPS):
        return ["done"] * len(STEPS)
    return ["done"] * done + [tail] + ["pending"] * (len(STEPS) - done - 1)


def test_no_events_all_pending() -> None:
    result = steps([])
    assert [s.stage for s in result] == list(STEPS)
    assert [s.state for s in result] == ["pending"] * 6
    assert all(s.detail == "" and s.at is None for s in result)


@pytest.mark.parametrize("k", range(1, 7))
def test_every_prefix(k: int) -> None:
    events = run(list(STEPS[:k]))
    assert states(events) == expected(k, "active")
    result = steps(events)
    for index in range(k):  # each done step carries its own event's detail and timing
        assert result[index].at == events[index].at and result[index].elapsed_ms == events[index].elapsed_ms
    if k < 6:
        assert result[k].at == events[-1].at  # the active step shows the latest event


@pytest.mark.parametrize("k", range(1, 7))
def test_duplicates_and_every_order_give_the_same_steps(k: int) -> None:
    events = run(list(STEPS[:k]))
    reference = steps(events)
    orders = list(itertools.permutations(events)) if k <= 5 else [
        random.Random(seed).sample(events, k) for seed in range(200)]
    for order in orders:
        assert steps([*order, *order[: k // 2 + 1]]) == reference


@pytest.mark.parametrize("k", range(0, 6))
def test_failure_at_each_step(k: int) -> None:
    failed = ev(k + 1, Stage.FAILED, "error.ocr_failed", failed_stage=STEPS[k])
    events = [*run(list(STEPS[:k])), failed]
    assert states(events) == expected(k, "failed")
    result = steps(events)
    assert result[k].detail == MESSAGES["error.ocr_failed"]
    assert states(list(reversed(events))) == expected(k, "failed")


@pytest.mark.parametrize(("failed_at", "retried_to"), itertools.product(range(1, 6), range(0, 7)))
def test_retry_after_failure_counts_only_the_new_attempt(failed_at: int, retried_to: int) -> None:
    first = run(list(STEPS[:failed_at]))
    failed = ev(failed_at + 1, Stage.FAILED, "error.ocr_timeout", failed_stage=STEPS[failed_at])
    retry = [ev(failed_at + 2 + i, stage) for i, stage in enumerate(STEPS[:retried_to])]
    events = [*first, failed, *retry]
    if retried_to == 0:
        assert states(events) == expected(failed_at, "failed")
    else:
        assert states(events) == expected(retried_to, "active")
    assert states(random.Random(failed_at * 10 + retried_to).sample(events, len(events))) == states(events)


def test_retry_without_new_upload_event_keeps_upload_received() -> None:
    events = [*run([Stage.UPLOAD_RECEIVED, Stage.OCR_STARTED]),
              ev(3, Stage.FAILED, "error.ocr_failed", failed_stage=Stage.OCR_COMPLETE),
              ev(4, Stage.OCR_STARTED)]
    assert states(events) == expected(2, "active")


def test_second_failure_after_retry() -> None:
    events = [*run([Stage.UPLOAD_RECEIVED, Stage.OCR_STARTED, Stage.OCR_COMPLETE]),
              ev(4, Stage.FAILED, "error.analysis_failed", failed_stage=Stage.ANALYSIS_STARTED),
              ev(5, Stage.UPLOAD_RECEIVED, "retry.requested"), ev(6, Stage.OCR_STARTED),
              ev(7, Stage.FAILED, "error.ocr_timeout", failed_stage=Stage.OCR_COMPLETE)]
    assert states(events) == expected(2, "failed")


def test_page_progress_events_repeat_ocr_started() -> None:
    events = [ev(1, Stage.UPLOAD_RECEIVED, "upload.received")]
    events += [ev(1 + page, Stage.OCR_STARTED, "ocr.page", page=page, pages=3) for page in (1, 2, 3)]
    result = steps(events)
    assert [s.state for s in result] == expected(2, "active")
    assert result[1].detail == "Reading page 1 of 3"  # when the step was reached
    assert result[2].detail == "Reading page 3 of 3"  # the active step shows the latest page
    events.append(ev(5, Stage.OCR_COMPLETE, "ocr.done", pages=3))
    assert states(events) == expected(3, "active")


@pytest.mark.parametrize("missing", range(0, 5))
def test_a_later_event_repairs_a_missed_one(missing: int) -> None:
    stages = [s for i, s in enumerate(STEPS) if i != missing]
    assert states(run(stages)) == ["done"] * 6
    assert states(run(stages[:-1])) == expected(STEPS.index(stages[-2]) + 1, "active")


def test_document_status_is_its_string_in_the_database_and_json() -> None:
    import json

    assert [status.value for status in DocumentStatus] == ["received", "processing", "processed", "failed"]
    assert sorted(TERMINAL_STATUSES) == ["failed", "processed"]
    assert sorted(IN_FLIGHT_STATUSES) == ["processing", "received"]
    # A row's plain string finds its member, and a member serialises as the plain string.
    assert "failed" in TERMINAL_STATUSES and "processing" not in TERMINAL_STATUSES
    assert json.dumps({"status": DocumentStatus.PROCESSED}) == '{"status": "processed"}'


# --------------------------------------------------------------------------- the row as input
# The document row (status, stage, failed_stage) is the snapshot that survives lost events.

EVENT_PREFIXES = range(0, 7)  # how many steps the events that arrived reached
IN_FLIGHT = ("received", "processing")


def row_states(events: list[ProgressEvent], status: str, stage: str | None = None,
               failed_stage: str | None = None) -> list[str]:
    return [s.state for s in steps(events, status=status, stage=stage, failed_stage=failed_stage)]


@pytest.mark.parametrize(("k", "failed_at"), itertools.product(EVENT_PREFIXES, [None, *range(0, 6)]))
def test_a_processed_row_has_every_step_done(k: int, failed_at: int | None) -> None:
    events = run(list(STEPS[:k]))
    if failed_at is not None:  # even after a failure event the row has not caught up with
        events.append(ev(k + 1, Stage.FAILED, "error.ocr_failed", failed_stage=STEPS[failed_at]))
    assert row_states(events, "processed", "matching_complete") == ["done"] * 6


@pytest.mark.parametrize(("k", "failed_stage"), itertools.product(EVENT_PREFIXES, [None, *range(0, 6)]))
def test_a_failed_row_without_a_failure_event_fails_its_step(k: int, failed_stage: int | None) -> None:
    events = run(list(STEPS[:k]))
    stage_value = STEPS[failed_stage].value if failed_stage is not None else None
    result = row_states(events, "failed", "failed", stage_value)
    assert result == expected(max(k, failed_stage if failed_stage is not None else 0), "failed")
    # Steps known from the row alone carry no event's detail; those the events reached keep theirs.
    shown = steps(events, status="failed", stage="failed", failed_stage=stage_value)
    for index, step in enumerate(shown):
        if index < k:
            assert step.at == events[index].at
        elif step.state != "pending" and (failed_stage or 0) > k:
            assert step.at is None and step.detail == ""


@pytest.mark.parametrize(("k", "row_failed_stage"), itertools.product(range(0, 6), range(0, 6)))
def test_a_failure_event_decides_over_the_rows_failed_stage(k: int, row_failed_stage: int) -> None:
    failed = ev(k + 1, Stage.FAILED, "error.ocr_timeout", failed_stage=STEPS[k])
    events = [*run(list(STEPS[:k])), failed]
    assert row_states(events, "failed", "failed", STEPS[row_failed_stage].value) == expected(k, "failed")
    assert steps(events, status="failed")[k].detail == MESSAGES["error.ocr_timeout"]


@pytest.mark.parametrize(("status", "k", "reached"),
                         itertools.product(IN_FLIGHT, EVENT_PREFIXES, [None, *range(0, 6)]))
def test_a_running_row_further_on_than_its_events_counts(status: str, k: int, reached: int | None) -> None:
    events = run(list(STEPS[:k]))
    stage_value = STEPS[reached].value if reached is not None else None
    furthest = max(k, reached + 1 if reached is not None else 0)
    if furthest == 0:  # neither events nor the row's stage say anything yet
        assert row_states(events, status, stage_value) == ["pending"] * 6
    else:
        assert row_states(events, status, stage_value) == expected(furthest, "active")


@pytest.mark.parametrize(("status", "k"), itertools.product(IN_FLIGHT, range(0, 6)))
def test_a_failure_newer_than_a_running_row_still_shows(status: str, k: int) -> None:
    events = [*run(list(STEPS[:k])), ev(k + 1, Stage.FAILED, "error.ocr_failed", failed_stage=STEPS[k])]
    assert row_states(events, status, STEPS[max(k - 1, 0)].value) == expected(k, "failed")


@pytest.mark.parametrize("k", EVENT_PREFIXES)
def test_without_a_row_the_events_alone_decide(k: int) -> None:
    events = run(list(STEPS[:k]))
    assert steps(events, status=None, stage="matching_complete") == steps(events)
    # An unknown stage or status from a newer server is ignored, not an error.
    assert steps(events, status="archived", stage="ocr_magic") == steps(events)


def test_a_row_alone_without_events() -> None:
    assert row_states([], "received", "upload_received") == expected(1, "active")
    assert row_states([], "processed") == ["done"] * 6
    assert row_states([], "failed", "failed", "analysis_started") == expected(3, "failed")
    assert all(s.detail == "" and s.at is None for s in steps([], status="processed"))
