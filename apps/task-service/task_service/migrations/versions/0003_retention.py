"""retention: per-queue retention of finished tasks, the feed's retention horizon

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Column and default (seconds): completed 1 day, cancelled 7 days, dead 30 days.
RETENTION = {
    "completed_retention_s": 86_400,
    "cancelled_retention_s": 7 * 86_400,
    "dead_retention_s": 30 * 86_400,
}


def upgrade() -> None:
    for column, default in RETENTION.items():
        op.add_column(
            "queues",
            sa.Column(column, sa.Integer(), server_default=sa.text(str(default)), nullable=True),
            schema="tasks",
        )
    # At most one row: the feed position (transaction id, event id) of the newest event
    # the cleaner deleted; a reader's cursor before it has lost events (410).
    op.execute(
        """
        CREATE TABLE tasks.feed_horizon (
            singleton boolean DEFAULT true NOT NULL,
            tx_id xid8 DEFAULT '0' NOT NULL,
            id bigint DEFAULT 0 NOT NULL,
            CONSTRAINT pk_feed_horizon PRIMARY KEY (singleton),
            CONSTRAINT ck_feed_horizon_one_row CHECK (singleton)
        )
        """
    )


def downgrade() -> None:
    op.drop_table("feed_horizon", schema="tasks")
    for column in reversed(RETENTION):
        op.drop_column("queues", column, schema="tasks")
