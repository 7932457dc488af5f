"""The migration building blocks emit exactly the DDL shipped migrations were built with.

Shipped migrations call :mod:`taskplane_common.migration_ops` and replay it on every
fresh database, so a change to what a function emits would make new databases differ
from old ones without any new revision. The DDL each function emits is pinned here (as
Alembic renders it offline), and PostgreSQL accepts it.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import psycopg
import sqlalchemy as sa
from alembic import op
from alembic.migration import MigrationContext
from alembic.operations import Operations

from taskplane_common.migration_ops import (
    Index,
    cascade_foreign_key,
    create_indexes,
    drop_indexes,
    drop_tables,
    primary_key,
    timestamp,
    timestamp_now,
    timestamps,
)
from taskplane_testing.postgres import PostgresServer

PARENTS = "CREATE TABLE s.parents (id UUID NOT NULL, CONSTRAINT pk_parents PRIMARY KEY (id))"
#: Every column and constraint function once, as a migration of today emits it.
JOBS = (
    "CREATE TABLE s.jobs (\n"
    "    id UUID NOT NULL, \n"
    "    parent_id UUID NOT NULL, \n"
    "    due_at TIMESTAMP WITH TIME ZONE, \n"
    "    started_at TIMESTAMP WITH TIME ZONE NOT NULL, \n"
    "    seen_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, \n"
    "    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, \n"
    "    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, \n"
    "    CONSTRAINT pk_jobs PRIMARY KEY (id, parent_id), \n"
    "    CONSTRAINT fk_jobs_parent_id_parents FOREIGN KEY(parent_id)"
    " REFERENCES s.parents (id) ON DELETE CASCADE\n"
    ");"
)
INDEXES = (
    Index("ix_jobs_due", "jobs", ["due_at"]),
    Index(
        "ix_jobs_parent_seen",
        "jobs",
        ["parent_id", sa.text("seen_at DESC")],
        unique=True,
        where="due_at IS NOT NULL",
    ),
    Index("ix_jobs_created", "jobs", ["created_at"], using="hash"),
)
CREATE_INDEXES = [
    "CREATE INDEX ix_jobs_due ON s.jobs (due_at);",
    "CREATE UNIQUE INDEX ix_jobs_parent_seen ON s.jobs (parent_id, seen_at DESC)"
    " WHERE due_at IS NOT NULL;",
    "CREATE INDEX ix_jobs_created ON s.jobs USING hash (created_at);",
]
DROP_INDEXES = [
    "DROP INDEX s.ix_jobs_created;",
    "DROP INDEX s.ix_jobs_parent_seen;",
    "DROP INDEX s.ix_jobs_due;",
]
DROP_TABLES = ["DROP TABLE s.jobs;", "DROP TABLE s.parents;"]


def _statements(step: Callable[[], None]) -> list[str]:
    """The SQL ``step`` emits through ``op``, rendered offline for PostgreSQL."""
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": buffer}
    )
    with Operations.context(context):
        step()
    return [statement.strip() for statement in buffer.getvalue().split("\n\n") if statement]


def _create_jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=False),
        timestamp("due_at"),
        timestamp("started_at", nullable=False),
        timestamp_now("seen_at"),
        *timestamps(),
        cascade_foreign_key("jobs", "parent_id", "s.parents.id"),
        primary_key("jobs", "id", "parent_id"),
        schema="s",
    )


def test_each_building_block_emits_its_pinned_ddl_and_postgres_runs_it(
    postgres_server: PostgresServer,
) -> None:
    create_table = _statements(_create_jobs)
    create_indexes_ = _statements(lambda: create_indexes("s", *INDEXES))
    drop_indexes_ = _statements(lambda: drop_indexes("s", *INDEXES))
    drop_tables_ = _statements(lambda: drop_tables("s", "jobs", "parents"))
    assert create_table == [JOBS]
    assert create_indexes_ == CREATE_INDEXES
    assert drop_indexes_ == DROP_INDEXES
    assert drop_tables_ == DROP_TABLES

    url = postgres_server.create_database("migration_ops")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA s")
        # bytes: the statements are rendered text, not literals in this file
        for statement in [PARENTS, *create_table, *create_indexes_, *drop_indexes_]:
            connection.execute(statement.encode())
        indexes = connection.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = 's'")
        assert indexes.fetchone() == (2,)  # the two primary keys only
        for statement in drop_tables_:
            connection.execute(statement.encode())
        tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 's'")
        assert tables.fetchone() == (0,)
