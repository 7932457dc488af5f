"""Building blocks of the services' Alembic migrations, each written once.

Every service's migrations declare the same few things: timestamps set by the database
at insert, primary and foreign keys named after the shared naming convention
(:data:`taskplane_common.metadata.NAMING_CONVENTION`), and indexes that an upgrade creates
and its downgrade drops. Here each is one function, and an index is declared once as
data (:class:`Index`) for both directions; a migration still reads as the tables it
creates, column by column.

Frozen: shipped migrations call these functions, and they run again on every fresh
database, so what a function emits must never change once a migration uses it (the
schema of a database built today must equal one built from the same revisions a year
ago). A different column, constraint or index shape is a NEW function that new
migrations call; ``apps/common/tests/test_migration_ops.py`` pins the DDL each function
emits and fails on any change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import conv


def timestamp(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    """A ``timestamp with time zone`` column without a default."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def timestamp_now(name: str) -> sa.Column[Any]:
    """A ``timestamp with time zone NOT NULL DEFAULT now()`` column: the database sets it
    at insert unless the row brings its own."""
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def timestamps() -> tuple[sa.Column[Any], sa.Column[Any]]:
    """``created_at`` and ``updated_at``, both :func:`timestamp_now` (the service moves
    ``updated_at`` on each change)."""
    return timestamp_now("created_at"), timestamp_now("updated_at")


def primary_key(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    """``table``'s primary key on ``columns``, named ``pk_<table>``."""
    return sa.PrimaryKeyConstraint(*columns, name=conv(f"pk_{table}"))


def cascade_foreign_key(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    """``table.column`` references ``target`` (``schema.table.column``) and its rows go when
    the row they reference goes; named ``fk_<table>_<column>_<referenced table>``."""
    referenced = target.split(".")[-2]
    return sa.ForeignKeyConstraint(
        [column], [target], name=conv(f"fk_{table}_{column}_{referenced}"), ondelete="CASCADE"
    )


@dataclass(frozen=True)
class Index:
    """An index on ``table``: its ``columns`` (names or SQL expressions), ``unique`` or not,
    partial on the SQL condition ``where`` when set, built by the access method ``using``
    (PostgreSQL's default, B-tree, when None)."""

    name: str
    table: str
    columns: Sequence[str | sa.ColumnElement[Any] | sa.TextClause]
    unique: bool = False
    where: str | None = None
    using: str | None = None


def create_indexes(schema: str, *indexes: Index) -> None:
    """Create ``indexes`` in ``schema``, in order."""
    for index in indexes:
        op.create_index(
            index.name,
            index.table,
            list(index.columns),
            unique=index.unique,
            schema=schema,
            postgresql_where=sa.text(index.where) if index.where else None,
            postgresql_using=index.using,
        )


def drop_indexes(schema: str, *indexes: Index) -> None:
    """Drop ``indexes`` from ``schema``, the last created first (the downgrade of
    :func:`create_indexes` with the same list)."""
    for index in reversed(indexes):
        op.drop_index(index.name, table_name=index.table, schema=schema)


def drop_tables(schema: str, *tables: str) -> None:
    """Drop ``tables`` of ``schema`` in the order given (referencing tables first), with
    their indexes and constraints."""
    for table in tables:
        op.drop_table(table, schema=schema)
