"""events carry the W3C traceparent of the change they describe

A consumer (the notification-service) continues that trace, so one task's enqueue,
lease, handler and notification delivery are one trace. Nullable: older events and
changes made outside any span have none.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 04:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("traceparent", sa.Text(), nullable=True), schema="tasks")


def downgrade() -> None:
    op.drop_column("events", "traceparent", schema="tasks")
