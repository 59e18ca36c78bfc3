"""Alembic: `upgrade head` builds exactly the models' schema (SQLite and PostgreSQL), and
`downgrade base` takes it away again."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import medupload.models  # noqa: F401  (registers the tables)
from alembic import command
from medupload.__main__ import alembic_config, migrate
from medupload.db import make_engine

MODEL_TABLES = set(SQLModel.metadata.tables)


def _schema_state(url: str) -> tuple[set[str], list[object], str | None]:
    """(tables, differences from the models, current revision) of the database at ``url``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return set(sa.inspect(conn).get_table_names()), compare_metadata(context, SQLModel.metadata), \
                context.get_current_revision()
    finally:
        engine.dispose()


def check_round_trip(url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    migrate(url)
    tables, diff, revision = _schema_state(url)
    assert tables == MODEL_TABLES | {"alembic_version"}
    assert diff == [], f"models and migrations differ; run `make migration m=...`: {diff}"
    assert revision == head

    migrate(url)  # a second upgrade is a no-op, as on every warm `make run`
    assert _schema_state(url)[2] == head

    command.downgrade(alembic_config(url), "base")
    tables, _, revision = _schema_state(url)
    assert tables == {"alembic_version"}
    assert revision is None


def test_one_head() -> None:
    """Two helpers adding migrations in parallel would leave two heads: `upgrade head` then fails."""
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_sqlite_upgrade_matches_models_and_downgrades(tmp_path: Path) -> None:
    check_round_trip(f"sqlite:///{tmp_path / 'migrate.db'}")


def test_upgrade_uses_the_configured_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from support import reset_caches

    db = tmp_path / "from-settings.db"
    monkeypatch.setenv("MEDUPLOAD_DATABASE_URL", f"sqlite:///{db}")
    reset_caches()
    try:
        migrate()
    finally:
        reset_caches()
    assert "documents" in _schema_state(f"sqlite:///{db}")[0]


def test_postgresql_upgrade_matches_models_and_downgrades(pg_schema_url: str) -> None:
    check_round_trip(pg_schema_url)


def test_review_migration_keeps_existing_facts_as_extracted(tmp_path: Path) -> None:
    """0003 adds the review columns to a database that already holds facts: they read as found
    by the pipeline, and the patient's new DOB/MRN are empty."""
    url = f"sqlite:///{tmp_path / 'review.db'}"
    migrate(url, "0002_document_owner")
    engine = make_engine(url)
    document = ("INSERT INTO documents (id, patient_id, filename, content_type, size, sha256, storage_path, "
                "status, stage, attempts, last_seq, created_at, updated_at) VALUES ('d_1', 'p_1', 'f', "
                "'image/png', 1, 'a', '-', 'processed', 'matching_complete', 1, 6, '2026-01-01', "
                "'2026-01-01')")
    fact = ("INSERT INTO facts (document_id, patient_id, kind, concept, text, start, \"end\", negated, "
            "historical, family, hypothetical, uncertain, confidence) VALUES ('d_1', 'p_1', 'lab', "
            "'glucose', 'g', 0, 1, 0, 0, 0, 0, 0, 0.9)")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO patients (id, display_name, created_at) "
                             "VALUES ('p_1', 'x', '2026-01-01')")
        conn.exec_driver_sql(document)
        conn.exec_driver_sql(fact)
    engine.dispose()
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT status, origin, reviewed_by, previous FROM facts").one()
        patient = conn.exec_driver_sql("SELECT date_of_birth, mrn FROM patients").one()
    engine.dispose()
    assert tuple(row) == ("extracted", "extracted", None, None)
    assert tuple(patient) == (None, None)
