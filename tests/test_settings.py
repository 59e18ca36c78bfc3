"""Settings: defaults, normalisation, and bad values failing at start-up with the setting's name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from medupload.settings import DATA_DIR, PROJECT_ROOT, Settings


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MEDUPLOAD_") and name != "MEDUPLOAD_SECRET_KEY":
            monkeypatch.delenv(name)
    settings = Settings()
    assert settings.database_url == f"sqlite:///{DATA_DIR / 'medupload.db'}"
    assert settings.is_embedded
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.pipeline_mode == "inline"
    assert settings.max_upload_bytes == 25 * 1024 * 1024


def test_postgresql_url_gets_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDUPLOAD_DATABASE_URL", "postgresql://app@db.example/medupload")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://app@db.example/medupload"
    assert not settings.is_embedded


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("MEDUPLOAD_PIPELINE_MODE", "bogus", "pipeline_mode"),
        ("MEDUPLOAD_MAX_UPLOAD_MB", "0", "max_upload_mb"),
        ("MEDUPLOAD_MAX_UPLOAD_MB", "lots", "max_upload_mb"),
        ("MEDUPLOAD_DATABASE_URL", "mysql://root@localhost/app", "database_url"),
        ("MEDUPLOAD_REDIS_URL", "http://127.0.0.1:6379", "redis_url"),
        ("MEDUPLOAD_INLINE_WORKERS", "0", "inline_workers"),
        ("MEDUPLOAD_EVENT_TTL_SECONDS", "5", "event_ttl_seconds"),
    ],
)
def test_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                     field: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


def test_short_secret_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDUPLOAD_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="MEDUPLOAD_SECRET_KEY"):
        Settings()


def test_start_up_fails_with_the_setting_named(tmp_path: Path) -> None:
    """What `make run` shows: its first Python step refuses to start, naming the setting."""
    env = {**os.environ, "MEDUPLOAD_PIPELINE_MODE": "bogus",
           "MEDUPLOAD_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}"}
    result = subprocess.run([sys.executable, "-m", "medupload", "migrate"], env=env, cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "MEDUPLOAD_PIPELINE_MODE (pipeline_mode)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "never.db").exists()


def test_readme_lists_every_setting_with_its_default() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(MEDUPLOAD_[A-Z_]+)` \| ([^|]+) \|", readme, flags=re.MULTILINE))
    assert set(rows) == {f"MEDUPLOAD_{name.upper()}" for name in Settings.model_fields}
    for name, field in Settings.model_fields.items():
        cell, default = rows[f"MEDUPLOAD_{name.upper()}"], field.default
        if isinstance(default, bool | int | float) or (isinstance(default, str) and default):
            shown = f"{default:g}" if isinstance(default, float) else str(default)
            assert f"`{shown.replace(str(PROJECT_ROOT), '<repo>')}`" in cell, name
        elif default in (None, ""):
            assert cell.strip() in ("unset", "empty") or "generated" in cell, name
        else:  # paths and URLs under the repo's data/ directory
            assert "data/" in cell, name
