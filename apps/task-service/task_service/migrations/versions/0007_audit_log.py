"""the audit log: queue configuration, retention and dead-letter actions, append-only

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 22:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

from taskplane_common.audit import create_audit_log, drop_audit_log

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_log(op.get_bind(), "tasks")


def downgrade() -> None:
    drop_audit_log(op.get_bind(), "tasks")
