"""profiles and notification preferences

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:28:45.098340
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from taskplane_common.migration_ops import (
    cascade_foreign_key,
    drop_tables,
    primary_key,
    timestamp_now,
    timestamps,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "users"


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("locale", sa.String(length=16), server_default="en", nullable=False),
        *timestamps(),
        primary_key("profiles", "user_id"),
        schema=SCHEMA,
    )
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("email", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("webhook", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("in_app", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        timestamp_now("updated_at"),
        cascade_foreign_key("notification_preferences", "user_id", "users.profiles.user_id"),
        primary_key("notification_preferences", "user_id", "event_type"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    drop_tables(SCHEMA, "notification_preferences", "profiles")
