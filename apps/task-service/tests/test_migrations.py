"""Alembic migrations: they match the models, tolerate concurrent runners, and each
downgrade restores exactly the schema a fresh upgrade to that revision builds."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from task_service.models import SCHEMA, Base
from taskplane_common.db import async_database_url
from taskplane_common.migrations import alembic_config, upgrade
from taskplane_testing.postgres import PostgresServer

from .conftest import schema_dump


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


def test_every_downgrade_restores_the_schema_of_a_fresh_upgrade(
    postgres_server: PostgresServer,
) -> None:
    """One database walks up revision by revision (the reference dumps), another goes to
    head and then down one revision at a time: at every revision the two dumps are
    equal, column order and function text included."""
    fresh_url = postgres_server.create_database("migrations_fresh")
    revisions = [
        script.revision
        for script in reversed(
            list(
                ScriptDirectory.from_config(
                    alembic_config("task_service", fresh_url)
                ).walk_revisions()
            )
        )
    ]
    assert revisions[0] == "0001", revisions
    fresh: dict[str, str] = {}
    for revision in revisions:
        upgrade("task_service", fresh_url, revision)
        fresh[revision] = schema_dump(postgres_server, fresh_url)

    trip_url = postgres_server.create_database("migrations_round_trip")
    upgrade("task_service", trip_url)
    assert schema_dump(postgres_server, trip_url) == fresh[revisions[-1]]
    config = alembic_config("task_service", trip_url)
    for revision in reversed(revisions[:-1]):
        command.downgrade(config, revision)
        assert schema_dump(postgres_server, trip_url) == fresh[revision], (
            f"downgrade to {revision} left a schema unlike a fresh upgrade to it"
        )
