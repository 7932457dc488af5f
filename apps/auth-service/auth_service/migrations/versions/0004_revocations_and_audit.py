"""revocations, ServiceAccount uids on workload bindings, the audit log

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from taskplane_common.audit import create_audit_log, drop_audit_log
from taskplane_common.migration_ops import primary_key, timestamp

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revocations",
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("subject_sha256", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        timestamp("revoked_at", nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        primary_key("revocations", "subject"),
        schema="auth",
    )
    op.create_index(
        "ix_revocations_version", "revocations", ["version"], unique=True, schema="auth"
    )
    op.add_column(
        "workload_bindings",
        sa.Column("service_account_uid", sa.String(length=64), nullable=True),
        schema="auth",
    )
    create_audit_log(op.get_bind(), "auth")


def downgrade() -> None:
    drop_audit_log(op.get_bind(), "auth")
    op.drop_column("workload_bindings", "service_account_uid", schema="auth")
    op.drop_index("ix_revocations_version", table_name="revocations", schema="auth")
    op.drop_table("revocations", schema="auth")
