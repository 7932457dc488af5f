"""the audit log: webhook subscription and secret changes, append-only

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 22:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

from taskplane_common.audit import create_audit_log, drop_audit_log

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_log(op.get_bind(), "notifications")


def downgrade() -> None:
    drop_audit_log(op.get_bind(), "notifications")
