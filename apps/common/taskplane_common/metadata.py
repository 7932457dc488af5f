"""The SQLAlchemy ``MetaData`` of one service: its own PostgreSQL schema, and the naming
convention every service's constraints and indexes follow, so a name a migration creates
is the name the model declares."""

from __future__ import annotations

from sqlalchemy import MetaData

#: Constraint and index names that stay stable across services and migrations.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """Metadata of one service: its own PostgreSQL schema, the shared naming convention."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
