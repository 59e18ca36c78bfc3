"""All configuration in one place: environment variables with the ``MEDUPLOAD_`` prefix."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from medupload.fsmodes import private_dir

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


class Settings(BaseSettings):
    """Runtime settings. Bad values fail at start-up with the setting's name in the message."""

    model_config = SettingsConfigDict(env_prefix="MEDUPLOAD_", extra="ignore")

    database_url: str = f"sqlite:///{DATA_DIR / 'medupload.db'}"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Prepended to every Redis key and pub/sub channel; pub/sub ignores database numbers,
    # so test runs set their own prefix to stay apart.
    redis_prefix: str = ""
    storage_dir: Path = DATA_DIR / "uploads"
    secret_key: SecretStr | None = None
    pipeline_mode: Literal["inline", "queue"] = "inline"
    max_upload_mb: int = Field(25, ge=1, le=1024)
    stream_max_seconds: float = Field(300, gt=0)
    heartbeat_seconds: float = Field(5, gt=0)
    db_poll_seconds: float = Field(5, gt=0)
    event_ttl_seconds: int = Field(3600, ge=60)
    token_ttl_seconds: int = Field(8 * 3600, ge=60)
    document_time_limit_seconds: int = Field(120, ge=5)
    ocr_page_timeout_seconds: float = Field(30, gt=0)
    inline_workers: int = Field(2, ge=1, le=32)
    langfuse_public_key: str | None = None
    langfuse_secret_key: SecretStr | None = None
    langfuse_host: str | None = None
    # Origins (scheme://host[:port], comma-separated) whose pages may use the session cookie: CORS,
    # the UI's socket and the CSRF check. Unset: this server's own (localhost and 127.0.0.1 on PORT).
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field("", validate_default=True)
    # Files one upload from the page may carry (each up to max_upload_mb); the /_upload gate refuses
    # a bigger request before reading it.
    upload_max_files: int = Field(5, ge=1, le=50)
    # Sessions (issue 8): how long a process may trust its last revocation answer, and how
    # often open streams re-check theirs; together they bound "ended within 5 s".
    revocation_cache_seconds: float = Field(1.0, ge=0, le=2)
    session_check_seconds: float = Field(2.0, gt=0, le=5)
    # Sign-in throttling (issue 8): attempts allowed per moving window, per account and per
    # client address; past either, 429 until the oldest attempt leaves the window.
    signin_window_seconds: int = Field(60, ge=1, le=3600)
    signin_account_attempts: int = Field(5, ge=1)
    signin_address_attempts: int = Field(50, ge=1)
    # Mark the session cookie Secure even when the request reached us over plain HTTP (TLS ends at
    # a proxy in front); requests that arrive over HTTPS get it regardless.
    secure_cookies: bool = False
    # SSE streams one account may hold open at once, across every server process (issue 8): one
    # misbehaving account cannot take the connection budget that health, sign-in and uploads need.
    max_streams_per_account: int = Field(10, ge=1, le=100_000)
    # A server process's stream slots outlive its last lease renewal (every third of this) by this
    # long: how soon a crashed process's slots stop counting (api/stream_slots.py).
    stream_slot_lease_seconds: float = Field(30.0, ge=0.3, le=600)
    # How tesseract runs (pipeline/tesseract.py): "tesserocr" loaded once per thread (fastest),
    # "cli" one subprocess per pass (a tesseract crash then costs a pass, not the worker).
    ocr_engine: Literal["tesserocr", "cli"] = "tesserocr"
    # Where the built clinical vocabulary is cached between processes (pipeline/vocabulary.py);
    # unset: $XDG_CACHE_HOME/medupload or ~/.cache/medupload.
    cache_dir: Path | None = None
    # Server processes freeze their warm heap so full collections stay short (medupload.gctune).
    gc_freeze: bool = True

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        if value.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; psycopg2 is not installed.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value or ())  # type: ignore[call-overload]
        origins = tuple(str(item).strip().rstrip("/").lower() for item in items if str(item).strip())
        for origin in origins:
            scheme, sep, host = origin.partition("://")
            if scheme not in ("http", "https") or not sep or not host or "/" in host or "*" in host:
                raise ValueError(f"{origin!r} is not an origin like https://clinic.example")
        return origins or own_origins()

    @model_validator(mode="after")
    def _secret(self) -> Settings:
        if self.secret_key is None:
            self.secret_key = SecretStr(_stored_secret(DATA_DIR / "secret_key"))
        elif len(self.secret_key.get_secret_value()) < 16:
            raise ValueError("MEDUPLOAD_SECRET_KEY must be at least 16 characters")
        return self

    @property
    def is_embedded(self) -> bool:
        """True on the zero-configuration defaults (SQLite file under data/)."""
        return self.database_url.startswith("sqlite:")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def redis_key(self, name: str) -> str:
        return f"{self.redis_prefix}{name}"


def own_origins() -> tuple[str, ...]:
    """The origins the app itself is served from: ``reflex run`` exports its port as
    REFLEX_FRONTEND_PORT to the server process; ``make run`` passes PORT."""
    port = os.environ.get("REFLEX_FRONTEND_PORT") or os.environ.get("PORT") or "3000"
    return (f"http://localhost:{port}", f"http://127.0.0.1:{port}")


def _stored_secret(path: Path) -> str:
    """Generate the signing key once and keep it (mode 600) so tokens survive restarts."""
    if path.exists():
        return path.read_text().strip()
    private_dir(path.parent)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
