"""``GET /metrics`` and ``medupload.metrics``: what a scrape shows, who may scrape, many processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import make_document, make_patient, make_user

from medupload import metrics
from medupload.api import create_api
from medupload.auth import create_access_token
from medupload.progress import tracing
from medupload.progress.emitter import emit_progress
from medupload.progress.stages import STEPS, Stage

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db(fresh_db: str) -> Iterator[str]:
    tracing.set_langfuse(None)
    yield fresh_db
    tracing.reset_langfuse()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def scrape(client_host: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_api(), client=(client_host, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.get("/metrics", headers=headers or {})


async def test_documents_by_status_and_instruments_from_loopback(db: str) -> None:
    patient = make_patient()
    done, failed, _waiting = make_document(patient), make_document(patient), make_document(patient)
    emit_progress(done, Stage.UPLOAD_RECEIVED, "upload.received")
    emit_progress(done, Stage.MATCHING_COMPLETE, "matching.done", numbers={"satisfied": 0, "requirements": 0})
    emit_progress(failed, Stage.FAILED, "error.ocr_failed", failed_stage=Stage.OCR_COMPLETE)
    throttled_before = samples(metrics.render().decode()).get(("medupload_login_throttled_total", ()), 0.0)
    metrics.LOGIN_THROTTLED.inc()

    response = await scrape("127.0.0.1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("medupload_documents", (("status", "processed"),))] == 1
    assert got[("medupload_documents", (("status", "failed"),))] == 1
    assert got[("medupload_documents", (("status", "received"),))] == 1
    assert got[("medupload_login_throttled_total", ())] == throttled_before + 1
    assert ("medupload_open_streams", ()) in got and ("medupload_hub_subscribers", ()) in got
    # Stage durations are the emitter's histogram (no DB quantiles at scrape time any more).
    assert not any(dict(labels).get("quantile") for name, labels in got if name.startswith("medupload_stage"))


@pytest.mark.parametrize(("host", "forwarded", "role", "status"), [
    ("10.1.2.3", False, None, 403),            # from elsewhere, no token
    ("127.0.0.1", True, None, 403),            # through the proxy (X-Forwarded-For), no token
    ("10.1.2.3", False, "patient", 403),       # a patient's token is not enough
    ("10.1.2.3", False, "staff", 200),
    ("::1", False, None, 200),
])
async def test_who_may_scrape(db: str, host: str, forwarded: bool, role: str | None, status: int) -> None:
    headers = {"X-Forwarded-For": "203.0.113.9"} if forwarded else {}
    if role is not None:
        patient_id = make_patient() if role == "patient" else None
        token, _ = create_access_token(make_user(role, patient_id))
        headers["Authorization"] = f"Bearer {token}"
    response = await scrape(host, headers)
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["code"] == "auth.forbidden"


def test_multiprocess_mode_sums_processes_and_forgets_dead_ones(tmp_path: Path) -> None:
    """Two processes count throttles and hold streams; one dies: counters stay, its gauge goes."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    child = textwrap.dedent("""
        import sys
        from medupload import metrics
        metrics.LOGIN_THROTTLED.inc(int(sys.argv[1]))
        metrics.OPEN_STREAMS.inc(int(sys.argv[1]))
        print("ready", flush=True)
        sys.stdin.read()  # stay alive until told
    """)
    procs = [subprocess.Popen([sys.executable, "-c", child, str(n)], env=env, cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE) for n in (2, 3)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        render = "from medupload import metrics; import sys; sys.stdout.write(metrics.render().decode())"

        def scrape_now() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            out = subprocess.run([sys.executable, "-c", render], env=env, cwd=ROOT, text=True,
                                 capture_output=True, check=True).stdout
            return samples(out)

        both = scrape_now()
        assert both[("medupload_login_throttled_total", ())] == 5
        assert both[("medupload_open_streams", ())] == 5
        procs[0].kill()  # kill -9: it never says it is gone
        procs[0].wait()
        after = scrape_now()
        assert after[("medupload_login_throttled_total", ())] == 5
        assert after[("medupload_open_streams", ())] == 3
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _stage_samples(text: str) -> dict[tuple[str, str, str], float]:
    """(sample suffix, stage, le) -> value of the stage-duration histogram."""
    out = {}
    for (name, labels), value in samples(text).items():
        if name.startswith("medupload_stage_duration_seconds"):
            label = dict(labels)
            suffix = name.removeprefix("medupload_stage_duration_seconds")
            out[(suffix, label["stage"], label.get("le", ""))] = value
    return out


def _run_stages(document_id: str, pause: float, ocr_pages: int = 3) -> None:
    """One attempt through every step, ``pause`` seconds apart; OCR reports several pages (the
    same step again: not a new observation)."""
    emit_progress(document_id, Stage.UPLOAD_RECEIVED, "upload.received")
    for stage in STEPS[1:]:
        time.sleep(pause)
        if stage is Stage.MATCHING_COMPLETE:
            emit_progress(document_id, stage, "matching.done", numbers={"satisfied": 0, "requirements": 0})
            continue
        emit_progress(document_id, stage, stage.value.replace("_", "."))
        if stage is Stage.OCR_STARTED:
            for page in range(ocr_pages):
                emit_progress(document_id, stage, "ocr.page", numbers={"page": page + 1, "pages": ocr_pages})


async def test_stage_durations_are_a_histogram_observed_as_each_step_is_reached(db: str) -> None:
    patient = make_patient()
    document = make_document(patient)
    before = _stage_samples(metrics.render().decode())
    pause = 0.06
    _run_stages(document, pause)
    # A retry: its steps are timed from the new upload, not from the failed attempt's events.
    emit_progress(document, Stage.FAILED, "error.ocr_failed", failed_stage=Stage.OCR_COMPLETE)
    time.sleep(0.3)
    _run_stages(document, pause)

    response = await scrape("127.0.0.1")
    assert response.status_code == 200
    got = _stage_samples(response.text)
    delta = {key: value - before.get(key, 0.0) for key, value in got.items()}
    stages = {stage for _, stage, _ in got}
    assert stages == {s.value for s in STEPS[1:]} | {"total"}  # labelled by stage only
    for stage in stages:
        assert delta[("_count", stage, "")] == 2  # once per attempt, repeated OCR pages or not
        assert delta[("_bucket", stage, "+Inf")] == 2
    for stage in STEPS[1:]:
        seconds = delta[("_sum", stage.value, "")]
        assert 2 * pause <= seconds < 2 * pause + 2.0  # from the step before, not from the failure
        assert delta[("_bucket", stage.value, "0.05")] == 0 and delta[("_bucket", stage.value, "5.0")] == 2
    total = delta[("_sum", "total", "")]
    parts = sum(delta[("_sum", stage.value, "")] for stage in STEPS[1:])
    assert abs(total - parts) < 0.05  # the steps add up to upload -> matched
    assert total < 5 * pause * 2 + 2.0  # the 0.3 s between the attempts is in neither


def test_stage_histogram_sums_processes_in_multiprocess_mode(db: str, tmp_path: Path) -> None:
    """Workers observe stage durations in their own processes; a scrape elsewhere sums them,
    including a worker that has since exited."""
    directory = tmp_path / "prometheus"  # not tmp_path itself: the test database is a *.db there
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    patient = make_patient()
    documents = [make_document(patient), make_document(patient)]
    child = textwrap.dedent("""
        import sys
        sys.path.insert(0, "tests")
        from test_metrics import _run_stages
        _run_stages(sys.argv[1], 0.01, ocr_pages=1)
    """)
    for document in documents:
        subprocess.run([sys.executable, "-c", child, document], env=env, cwd=ROOT, check=True, timeout=120)
    render = "from medupload import metrics; import sys; sys.stdout.write(metrics.render().decode())"
    done = subprocess.run([sys.executable, "-c", render], env=env, cwd=ROOT, text=True, capture_output=True)
    assert done.returncode == 0, done.stderr
    got = _stage_samples(done.stdout)
    assert got[("_count", "ocr_complete", "")] == 2 and got[("_count", "total", "")] == 2
