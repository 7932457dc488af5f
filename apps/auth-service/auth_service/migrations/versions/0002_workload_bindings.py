"""workload bindings: a Kubernetes ServiceAccount allowed to work one queue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 08:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from taskplane_common.migration_ops import primary_key, timestamps

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workload_bindings",
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("service_account", sa.String(length=253), nullable=False),
        sa.Column("queue", sa.String(length=128), nullable=False),
        *timestamps(),
        primary_key("workload_bindings", "namespace", "service_account"),
        schema="auth",
    )


def downgrade() -> None:
    op.drop_table("workload_bindings", schema="auth")
