"""Alembic migrations: they match the models and tolerate concurrent runners."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from task_service.models import SCHEMA, Base
from taskplane_common.db import async_database_url
from taskplane_common.migrations import upgrade
from taskplane_testing.postgres import PostgresServer


def test_concurrent_upgrades_apply_once_and_match_the_models(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("migrations_race")
    env = {**os.environ, "DATABASE_URL": url}
    runners = [
        subprocess.Popen(
            [sys.executable, "-m", "task_service", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [runner.communicate(timeout=120)[0].decode() for runner in runners]
    assert [runner.returncode for runner in runners] == [0, 0, 0], outputs
    assert sum("Running upgrade  -> 0001" in output for output in outputs) == 1, outputs
    upgrade("task_service", url)  # a later run is a no-op

    with psycopg.connect(url) as connection:
        versions = connection.execute("SELECT version_num FROM tasks.alembic_version").fetchall()
    assert len(versions) == 1

    engine = create_engine(async_database_url(url))
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": lambda name, type_, _: type_ != "schema" or name == SCHEMA,
                "version_table_schema": SCHEMA,
            },
        )
        diff = [
            change
            for change in compare_metadata(context, Base.metadata)
            if not (change[0] == "remove_table" and change[1].name == "alembic_version")
        ]
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"
