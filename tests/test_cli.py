"""The command line: `user add`, `seed-demo`, `migrate`, `worker`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from sqlmodel import Session, select

from medupload.__main__ import DEMO_ACCOUNTS, DEMO_PROGRAM, main
from medupload.auth import AuthError, authenticate
from medupload.db import make_engine
from medupload.models import Patient, ProgramEnrollment, User
from medupload.settings import PROJECT_ROOT


def _cli(*args: str, db_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "medupload", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "MEDUPLOAD_DATABASE_URL": db_url, **env})


@pytest.fixture
def migrated_url(tmp_path: Path) -> str:
    """An empty SQLite file brought to head by the CLI itself (as `make run` does)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = _cli("migrate", db_url=url)
    assert result.returncode == 0, result.stderr
    return url


def test_user_add_patient_prints_id_and_can_log_in(migrated_url: str) -> None:
    result = _cli("user", "add", "--role", "patient", "--username", "dora", "--password", "dora-secret-1",
                  "--name", "Dora Example", "--program", DEMO_PROGRAM, "--program", DEMO_PROGRAM,
                  db_url=migrated_url)
    assert result.returncode == 0, result.stderr
    patient_id = result.stdout.strip()
    assert re.fullmatch(r"p_[0-9a-f]{16}", patient_id)

    engine = make_engine(migrated_url)
    with Session(engine) as session:
        user = authenticate(session, "dora", "dora-secret-1")
        assert (user.role, user.patient_id) == ("patient", patient_id)
        patient = session.get(Patient, patient_id)
        assert patient is not None and patient.display_name == "Dora Example"
        programs = session.exec(select(ProgramEnrollment.program)
                                .where(ProgramEnrollment.patient_id == patient_id)).all()
        assert programs == [DEMO_PROGRAM]
    engine.dispose()


def test_user_add_staff_and_refusals(migrated_url: str) -> None:
    staff = _cli("user", "add", "--role", "staff", "--username", "nurse", "--password", "nurse-secret",
                 db_url=migrated_url)
    assert staff.returncode == 0, staff.stderr
    assert staff.stdout.strip().startswith("u_")

    again = _cli("user", "add", "--role", "patient", "--username", "nurse", "--password", "other-secret",
                 db_url=migrated_url)
    assert again.returncode == 1
    assert "taken" in again.stderr and "Traceback" not in again.stderr

    short = _cli("user", "add", "--role", "patient", "--username", "erin", "--password", "short",
                 db_url=migrated_url)
    assert short.returncode == 1 and "at least 8" in short.stderr

    typo = _cli("user", "add", "--role", "patient", "--username", "erin", "--password", "erin-secret",
                "--program", "diabetes-anual", db_url=migrated_url)
    assert typo.returncode == 1 and "unknown program diabetes-anual" in typo.stderr

    engine = make_engine(migrated_url)
    with Session(engine) as session:
        users = session.exec(select(User)).all()
        assert [(u.username, u.role, u.patient_id) for u in users] == [("nurse", "staff", None)]
        assert session.exec(select(Patient)).all() == []
    engine.dispose()


def test_seed_demo_is_idempotent_and_prints_working_logins(migrated_url: str) -> None:
    first = _cli("seed-demo", db_url=migrated_url)
    second = _cli("seed-demo", db_url=migrated_url)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout  # same accounts, same patient ids
    for account in DEMO_ACCOUNTS:
        assert re.search(rf"^\s+{account.username}\s+password {re.escape(account.password)}\s",
                         first.stdout, re.MULTILINE)

    engine = make_engine(migrated_url)
    with Session(engine) as session:
        assert len(session.exec(select(User)).all()) == 3
        for account in DEMO_ACCOUNTS:
            user = authenticate(session, account.username, account.password)
            assert user.role == account.role
        enrolled = session.exec(select(ProgramEnrollment)).all()
        assert sorted(e.program for e in enrolled) == [DEMO_PROGRAM, DEMO_PROGRAM]
        assert len(session.exec(select(Patient)).all()) == 2
    engine.dispose()


def test_seed_demo_refuses_a_real_database(tmp_path: Path) -> None:
    # Nothing listens there: the refusal must come before any connection attempt.
    result = _cli("seed-demo", db_url="postgresql://medupload@127.0.0.1:1/medupload")
    assert result.returncode == 1
    assert "embedded" in result.stderr
    assert "alice-demo" not in result.stdout + result.stderr


def test_worker_delegates_to_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pipeline worker is another module's job; here only the CLI's hand-over is under test.
    calls: list[tuple[int, int]] = []
    fake = types.ModuleType("medupload.pipeline.worker")
    fake.run_workers = lambda processes, threads: calls.append((processes, threads))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "medupload.pipeline.worker", fake)
    assert main(["worker", "--processes", "3", "--threads", "4"]) == 0
    assert calls == [(3, 4)]


def test_user_disable_and_enable(migrated_url: str) -> None:
    added = _cli("user", "add", "--role", "patient", "--username", "dora", "--password", "dora-secret-1",
                 db_url=migrated_url)
    assert added.returncode == 0, added.stderr
    engine = make_engine(migrated_url)

    def disabled() -> bool:
        with Session(engine) as session:
            return session.exec(select(User).where(User.username == "dora")).one().disabled

    result = _cli("user", "disable", "--username", "dora", db_url=migrated_url)
    assert result.returncode == 0, result.stderr
    assert "dora disabled" in result.stdout and disabled()
    with Session(engine) as session, pytest.raises(AuthError):
        authenticate(session, "dora", "dora-secret-1")

    result = _cli("user", "enable", "--username", "dora", db_url=migrated_url)
    assert result.returncode == 0, result.stderr
    assert not disabled()
    with Session(engine) as session:
        assert authenticate(session, "dora", "dora-secret-1").username == "dora"

    missing = _cli("user", "enable", "--username", "nobody", db_url=migrated_url)
    assert missing.returncode == 1 and "no user 'nobody'" in missing.stderr
def test_user_add_patient_with_date_of_birth_and_mrn(migrated_url: str) -> None:
    result = _cli("user", "add", "--role", "patient", "--username", "fay", "--password", "fay-secret-1",
                  "--name", "Fay Example", "--dob", "1961-04-02", "--mrn", " MRN-0042 ", db_url=migrated_url)
    assert result.returncode == 0, result.stderr
    patient_id = result.stdout.strip()

    bad_dob = _cli("user", "add", "--role", "patient", "--username", "gus", "--password", "gus-secret-1",
                   "--dob", "02/04/1961", db_url=migrated_url)
    assert bad_dob.returncode == 1 and "YYYY-MM-DD" in bad_dob.stderr
    staff_mrn = _cli("user", "add", "--role", "staff", "--username", "hal", "--password", "hal-secret-1",
                     "--mrn", "X1", db_url=migrated_url)
    assert staff_mrn.returncode == 1 and "only patients" in staff_mrn.stderr

    engine = make_engine(migrated_url)
    with Session(engine) as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None
        assert (str(patient.date_of_birth), patient.mrn) == ("1961-04-02", "MRN-0042")
        assert [u.username for u in session.exec(select(User)).all()] == ["fay"]
    engine.dispose()
