"""test deliveries: a sequence numbering their events below zero

``POST /api/v1/webhooks/{id}/test`` queues a delivery of a ``webhook.test`` event that
is no feed event; its event id is ``-nextval`` of this sequence, so it never collides
with a feed event id (all positive) and stays unique per subscription.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 01:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE notifications.test_event_ids")


def downgrade() -> None:
    op.execute("DROP SEQUENCE notifications.test_event_ids")
