"""webhook preferences default on: a subscription is already an explicit opt-in

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _webhook_default(value: str) -> None:
    op.alter_column(
        "notification_preferences",
        "webhook",
        server_default=sa.text(value),
        existing_type=sa.Boolean(),
        existing_nullable=False,
        schema="users",
    )


def upgrade() -> None:
    _webhook_default("true")


def downgrade() -> None:
    _webhook_default("false")
