"""Staff dashboard server time with 10,000 documents and 2,000 patients (not a test: prints figures).

    .venv/bin/python bench/dashboard.py                 # SQLite file
    .venv/bin/python bench/dashboard.py --pg            # PostgreSQL (MEDUPLOAD_TEST_PG_URL), own schema

"first page" = what the dashboard loads when staff open it: the documents page (50 rows, with
patient names and counts by status), the patient list page (50 patients with requirement counts)
and the review queue's first page, all from ``medupload.staff_records``. The baseline, measured in
the same run on the same data, is what the dashboard did before: the latest 200 documents, then
``records.requirement_status`` for every patient (one query per patient). Target: first page
<= 300 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = Path(tempfile.mkdtemp(prefix="medupload-bench-"))
os.environ.update({
    "MEDUPLOAD_DATABASE_URL": f"sqlite:///{RUN / 'bench.db'}",
    "MEDUPLOAD_STORAGE_DIR": str(RUN / "uploads"),
    "MEDUPLOAD_SECRET_KEY": "bench-secret-key-" + uuid.uuid4().hex,
})
sys.path[:0] = [str(ROOT)]

import sqlalchemy as sa  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

import medupload.models  # noqa: E402,F401
from medupload import records, staff_records  # noqa: E402
from medupload.db import get_engine  # noqa: E402
from medupload.models import Document, Fact, Patient, ProgramEnrollment, RequirementMatch  # noqa: E402
from medupload.pipeline.matching import load_program  # noqa: E402

PATIENTS, DOCUMENTS = 2_000, 10_000
FIRST = ["Ann", "Ben", "Cat", "Dan", "Eve", "Fay", "Gus", "Hal", "Ida", "Jon", "Kay", "Lee"]
LAST = ["Archer", "Baker", "Carter", "Dalton", "Ellis", "Foster", "Grant", "Hughes", "Irwin", "Jones"]
STATUSES = ["processed"] * 85 + ["failed"] * 5 + ["processing"] * 5 + ["received"] * 5
STATES = ["satisfied"] * 5 + ["missing"] * 3 + ["expired"] + ["needs_review"]


def seed() -> None:
    rng = random.Random(7)
    engine = get_engine()
    SQLModel.metadata.create_all(engine)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    requirements = load_program("diabetes-annual")
    patients, enrolments, documents, facts, matches = [], [], [], [], []
    for n in range(PATIENTS):
        pid = f"p_{n:016x}"
        patients.append({"id": pid, "display_name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {n}",
                         "created_at": t0, "date_of_birth": date(1940 + n % 60, 1 + n % 12, 1 + n % 28),
                         "mrn": f"MRN{n:06d}"})
        enrolments.append({"patient_id": pid, "program": "diabetes-annual", "enrolled_at": t0})
    fact_id = 0
    for n in range(DOCUMENTS):
        pid = f"p_{n % PATIENTS:016x}"
        when = t0 + timedelta(minutes=n * 7)
        did = f"d_{n:016x}"
        documents.append({
            "id": did, "patient_id": pid, "filename": f"scan-{n}.jpg", "content_type": "image/jpeg",
            "size": 100_000, "sha256": f"{n:064x}", "storage_path": "-", "status": rng.choice(STATUSES),
            "stage": "matching_complete", "attempts": 1, "last_seq": 6, "created_at": when,
            "updated_at": when,
            "document_type": "lab_report", "document_date": when.date().isoformat(), "ocr_confidence": 0.9})
        for _ in range(3):
            fact_id += 1
            facts.append({
                "id": fact_id, "document_id": did, "patient_id": pid, "kind": "lab", "concept": "glucose",
                "text": "glucose", "start": 0, "end": 7, "negated": False, "historical": False,
                "family": False,
                "hypothetical": False, "uncertain": False, "confidence": rng.choice([0.95] * 19 + [0.4]),
                "status": "extracted", "origin": "extracted"})
    for n in range(PATIENTS):
        pid = f"p_{n:016x}"
        for requirement in requirements:
            state = rng.choice(STATES)
            matches.append({
                "patient_id": pid, "requirement_id": requirement.id, "program": requirement.program,
                "title": requirement.title, "state": state,
                "document_id": None if state == "missing" else f"d_{n:016x}",
                "fact_id": None, "updated_at": t0})
    with engine.begin() as conn:
        for model, rows in ((Patient, patients), (ProgramEnrollment, enrolments), (Document, documents),
                            (Fact, facts), (RequirementMatch, matches)):
            conn.execute(sa.insert(model), rows)  # type: ignore[arg-type]
        conn.exec_driver_sql("ANALYZE")  # planner statistics, as a live database has


def first_page() -> None:
    staff_records.dashboard_page(limit=50)
    staff_records.patient_page(limit=50)
    staff_records.review_queue(limit=50)


def searched_page() -> None:
    staff_records.dashboard_page(q="carter", status="processed", limit=50)
    staff_records.patient_page(q="MRN001234", limit=50)


def baseline() -> None:
    records.documents_by_status(None, None, limit=200)
    for pid in records.patient_ids():
        records.requirement_status(pid)


def timed(fn: Callable[[], None], runs: int) -> tuple[float, float]:
    fn()  # warm caches (connection pool, compiled statements, the page cache)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", action="store_true", help="run on PostgreSQL in a new schema")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--parts", action="store_true", help="also time each query on its own")
    args = parser.parse_args()
    schema = None
    if args.pg:
        from medupload.db import make_engine

        url = os.environ.get("MEDUPLOAD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with make_engine(url).begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        os.environ["MEDUPLOAD_DATABASE_URL"] = f"{url}?options=-csearch_path%3D{schema}"
    try:
        started = time.perf_counter()
        seed()
        print(f"database: {get_engine().dialect.name}; seeded {PATIENTS:,} patients, {DOCUMENTS:,} "
              f"documents, {DOCUMENTS * 3:,} facts in {time.perf_counter() - started:.1f} s")
        if args.parts:
            for name, part in (("documents", lambda: staff_records.dashboard_page(limit=50)),
                               ("patients", lambda: staff_records.patient_page(limit=50)),
                               ("review", lambda: staff_records.review_queue(limit=50))):
                print(f"  {name}: p50 {timed(part, 5)[0]:.1f} ms")
        new_p50, new_max = timed(first_page, args.runs)
        search_p50, search_max = timed(searched_page, args.runs)
        base_p50, base_max = timed(baseline, max(3, args.runs // 5))
        print(f"first page (documents + patients + review queue): p50 {new_p50:.1f} ms, max {new_max:.1f} ms"
              f"  (target <= 300 ms: {'met' if new_p50 <= 300 else 'NOT met'})")
        print(f"searched page (name + status, MRN): p50 {search_p50:.1f} ms, max {search_max:.1f} ms")
        print(f"baseline (latest 200 + requirement_status per patient): p50 {base_p50:.1f} ms, "
              f"max {base_max:.1f} ms")
        print(f"ratio baseline / first page: {base_p50 / new_p50:.1f}x")
    finally:
        get_engine().dispose()
        if schema is not None:
            from medupload.db import make_engine

            with make_engine(url).begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
