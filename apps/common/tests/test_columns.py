"""The ORM column kinds declare what their migration functions create.

A model's ``Mapped[Timestamp]`` and a migration's ``timestamp()`` describe the same
column; if one changed alone, the model-drift tests of every service would fail at the
first table using it. Here the pair is checked directly, with the nullability rule of
``Annotated`` kinds (NOT NULL unless the annotation says ``| None``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped
from sqlalchemy.schema import CreateTable

from taskplane_common.columns import Timestamp, TimestampNow, UuidColumn, UuidPrimaryKey
from taskplane_common.migration_ops import timestamp, timestamp_now


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "rows"

    id: Mapped[UuidPrimaryKey]
    ref: Mapped[UuidColumn]
    optional_ref: Mapped[UuidColumn | None]
    due_at: Mapped[Timestamp | None]
    started_at: Mapped[Timestamp]
    created_at: Mapped[TimestampNow]


#: What :class:`_Row` declares, as a migration writes it (``sa.UUID()`` as in the
#: services' migrations).
MIGRATED = sa.Table(
    "rows",
    sa.MetaData(),
    sa.Column("id", sa.UUID(), nullable=False),
    sa.Column("ref", sa.UUID(), nullable=False),
    sa.Column("optional_ref", sa.UUID(), nullable=True),
    timestamp("due_at"),
    timestamp("started_at", nullable=False),
    timestamp_now("created_at"),
    sa.PrimaryKeyConstraint("id"),
)


def _ddl(table: sa.Table) -> str:
    return str(CreateTable(table).compile(dialect=postgresql.dialect())).strip()


def test_kinds_declare_the_columns_migrations_create_null_only_where_annotated() -> None:
    declared = _Base.metadata.tables["rows"]
    assert _ddl(declared) == _ddl(MIGRATED)
    assert _ddl(declared) == (
        "CREATE TABLE rows (\n"
        "\tid UUID NOT NULL, \n"
        "\tref UUID NOT NULL, \n"
        "\toptional_ref UUID, \n"
        "\tdue_at TIMESTAMP WITH TIME ZONE, \n"
        "\tstarted_at TIMESTAMP WITH TIME ZONE NOT NULL, \n"
        "\tcreated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, \n"
        "\tPRIMARY KEY (id)\n"
        ")"
    )
    # Read back as uuid.UUID, as the services' code expects.
    for name in ("id", "ref", "optional_ref"):
        column_type = declared.c[name].type
        assert isinstance(column_type, postgresql.UUID)
        assert column_type.as_uuid
