"""Alembic environment: the URL comes from MedUpload's settings, the schema from medupload.models."""

from __future__ import annotations

import logging.config

from sqlalchemy import Connection
from sqlmodel import SQLModel

import medupload.models  # noqa: F401  (registers every table on SQLModel.metadata)
from alembic import context
from medupload.db import make_engine
from medupload.settings import get_settings

config = context.config
# Only when run from the alembic command line: programmatic callers keep their own logging.
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def _url() -> str:
    # An explicit URL (tests, `python -m medupload migrate --url`) wins over the settings.
    return config.attributes.get("url") or get_settings().database_url


def _configure(**kwargs: object) -> None:
    url = kwargs.get("url") or str(kwargs["connection"].engine.url)  # type: ignore[union-attr]
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode recreates the table instead.
        render_as_batch=url.startswith("sqlite"),
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # Batch mode copies and drops tables; enforced foreign keys would block or cascade that.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run_with(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
