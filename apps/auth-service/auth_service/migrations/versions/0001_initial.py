"""users, refresh tokens, service tokens, signing keys, rate limits

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:25:50.369732
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from taskplane_common.migration_ops import (
    Index,
    cascade_foreign_key,
    create_indexes,
    drop_tables,
    primary_key,
    timestamp,
    timestamp_now,
    timestamps,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "auth"


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("bucket", sa.String(length=100), nullable=False),
        timestamp("window_start", nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        primary_key("rate_limits", "bucket"),
        schema=SCHEMA,
    )
    op.create_table(
        "service_tokens",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        timestamp_now("created_at"),
        timestamp("expires_at"),
        timestamp("revoked_at"),
        timestamp("last_used_at"),
        primary_key("service_tokens", "id"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_service_tokens_token_hash")),
        schema=SCHEMA,
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        timestamp_now("created_at"),
        timestamp("retired_at"),
        primary_key("signing_keys", "kid"),
        schema=SCHEMA,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=20), server_default="member", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *timestamps(),
        sa.CheckConstraint(
            "role IN ('admin', 'member', 'viewer')", name=op.f("ck_users_role_known")
        ),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lower")),
        primary_key("users", "id"),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        schema=SCHEMA,
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("family_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        timestamp_now("created_at"),
        timestamp("expires_at", nullable=False),
        timestamp("used_at"),
        timestamp("revoked_at"),
        cascade_foreign_key("refresh_tokens", "user_id", "auth.users.id"),
        primary_key("refresh_tokens", "id"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
        schema=SCHEMA,
    )
    create_indexes(
        SCHEMA,
        Index("ix_refresh_tokens_family", "refresh_tokens", ["family_id"]),
        Index("ix_refresh_tokens_user", "refresh_tokens", ["user_id"]),
    )


def downgrade() -> None:
    drop_tables(SCHEMA, "refresh_tokens", "users", "signing_keys", "service_tokens", "rate_limits")
