"""fewer index entries per event: drop ix_events_task (no query reads events by task)

Every queue transition writes an event row, so each index on tasks.events costs one
index entry per transition; the feed reads by (tx_id, id) and retention deletes by that
order too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 04:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_events_task", table_name="events", schema="tasks")


def downgrade() -> None:
    op.create_index("ix_events_task", "events", ["task_id"], unique=False, schema="tasks")
