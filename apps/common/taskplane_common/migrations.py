"""Alembic wiring shared by every service.

Each service keeps its tables in its own PostgreSQL schema with its own version table,
so services migrate independently on one database (RDS or the embedded server). A
session-level advisory lock makes concurrent runners (two pods, a Job and a developer)
wait for each other instead of racing.
"""

from __future__ import annotations

import os
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.pool import NullPool

from taskplane_common.db import async_database_url


def alembic_config(package: str, database_url: str) -> Config:
    """Config for ``<package>/migrations`` without an alembic.ini on disk."""
    config = Config()
    config.set_main_option("script_location", f"{package}:migrations")
    config.attributes["database_url"] = database_url
    return config


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    """Apply migrations; safe to run from several processes at once."""
    command.upgrade(alembic_config(package, database_url), revision)


def run_env(metadata: MetaData, schema: str) -> None:
    """Body of a service's ``migrations/env.py`` (online mode; offline renders SQL)."""
    config = context.config
    url = config.attributes.get("database_url") or os.environ["DATABASE_URL"]
    sync_url = async_database_url(url)
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table_schema": schema,
        "include_schemas": True,
        "include_name": lambda name, type_, _parent: type_ != "schema" or name == schema,
        "compare_type": True,
    }
    if context.is_offline_mode():
        context.configure(url=sync_url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    engine = create_engine(sync_url, poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(
            text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": f"taskplane-migrate:{schema}"}
        )
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.commit()
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
        connection.execute(
            text("SELECT pg_advisory_unlock(hashtext(:key))"),
            {"key": f"taskplane-migrate:{schema}"},
        )
    engine.dispose()
