"""index for the retention cleaner: refresh tokens by expiry

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 22:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_refresh_tokens_expires", "refresh_tokens", ["expires_at"], schema="auth")


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_expires", table_name="refresh_tokens", schema="auth")
