"""Shared test set-up: every run gets its own Redis database/prefix, SQLite file and storage."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_RUN_DIR = Path(tempfile.mkdtemp(prefix="medupload-test-"))
# Set before anything imports the settings: a test run never touches the real data/ or keys.
os.environ.setdefault("MEDUPLOAD_DATABASE_URL", f"sqlite:///{_RUN_DIR / 'test.db'}")
os.environ.setdefault("MEDUPLOAD_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("MEDUPLOAD_REDIS_PREFIX", f"t{uuid.uuid4().hex[:8]}:")
os.environ.setdefault("MEDUPLOAD_STORAGE_DIR", str(_RUN_DIR / "uploads"))
os.environ.setdefault("MEDUPLOAD_SECRET_KEY", "test-secret-key-" + uuid.uuid4().hex)
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from support import reset_caches  # noqa: E402  (after the environment is set)


@pytest.fixture
def fresh_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A new empty SQLite database with all tables, used by the app for this test."""
    from sqlmodel import SQLModel

    import medupload.models  # noqa: F401  (registers the tables)
    from medupload.db import get_engine

    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("MEDUPLOAD_DATABASE_URL", url)
    monkeypatch.setenv("MEDUPLOAD_STORAGE_DIR", str(tmp_path / "uploads"))
    reset_caches()
    SQLModel.metadata.create_all(get_engine())
    yield url
    get_engine().dispose()
    reset_caches()
