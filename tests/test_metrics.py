"""``GET /metrics`` and ``medupload.metrics``: what a scrape shows, who may scrape, many processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
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
from medupload.progress.stages import Stage

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
    assert any(name == "medupload_stage_duration_seconds" for name, _ in got)


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
