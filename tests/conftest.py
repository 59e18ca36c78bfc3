"""Shared test set-up: every run gets its own Redis database/prefix, SQLite file and storage."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

_RUN_DIR = Path(tempfile.mkdtemp(prefix="medupload-test-"))
# Set before anything imports the settings: a test run never touches the real data/ or keys.
os.environ.setdefault("MEDUPLOAD_DATABASE_URL", f"sqlite:///{_RUN_DIR / 'test.db'}")
os.environ.setdefault("MEDUPLOAD_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("MEDUPLOAD_REDIS_PREFIX", f"t{uuid.uuid4().hex[:8]}:")
os.environ.setdefault("MEDUPLOAD_STORAGE_DIR", str(_RUN_DIR / "uploads"))
os.environ.setdefault("MEDUPLOAD_SECRET_KEY", "test-secret-key-" + uuid.uuid4().hex)
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from support import PG_URL, LiveServer, reset_caches  # noqa: E402  (after the environment is set)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL whose search_path is a new, empty schema in the test database; dropped afterwards,
    so reruns and other tests sharing the database are unaffected."""
    from medupload.db import make_engine

    admin = make_engine(PG_URL)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("MEDUPLOAD_TEST_REQUIRE_PG"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc.orig}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _use_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> Iterator[str]:
    from sqlmodel import SQLModel

    import medupload.models  # noqa: F401  (registers the tables)
    from medupload.db import get_engine

    monkeypatch.setenv("MEDUPLOAD_DATABASE_URL", url)
    monkeypatch.setenv("MEDUPLOAD_STORAGE_DIR", str(tmp_path / "uploads"))
    reset_caches()
    SQLModel.metadata.create_all(get_engine())
    yield url
    get_engine().dispose()
    reset_caches()


@pytest.fixture
def fresh_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A new empty SQLite database with all tables, used by the app for this test."""
    yield from _use_database(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'app.db'}")


@pytest.fixture
def pg_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_schema_url: str) -> Iterator[str]:
    """The app on a new empty PostgreSQL schema with all tables (PostgreSQL is production)."""
    yield from _use_database(monkeypatch, tmp_path, pg_schema_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return str(request.getfixturevalue("fresh_db" if request.param == "sqlite" else "pg_db"))


@pytest.fixture
def start_server(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., LiveServer]]:
    """Start API servers (``support.LiveServer``) with the given settings; all stopped afterwards."""
    from medupload.progress import tracing

    tracing.set_langfuse(None)
    servers: list[LiveServer] = []

    def start(**settings: Any) -> LiveServer:
        for key, value in settings.items():
            monkeypatch.setenv(f"MEDUPLOAD_{key.upper()}", str(value))
        reset_caches()
        servers.append(LiveServer().start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
    tracing.reset_langfuse()
