"""webhook secrets encrypted at rest (envelope: per-row data key wrapped by the KEK);
indexes for the retention cleaner

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 22:00:00

Existing plaintext secrets are sealed under a new data key per row, wrapped by the KEK
the service's settings name (``TASKPLANE_SECRETS_KEK``, ``_KEK_FILE`` or ``_KMS_KEY_ID``:
``python -m notification_service migrate`` runs with the service's environment), then the
plaintext columns are dropped. There is no downgrade to plaintext.
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from notification_service.config import Settings
from notification_service.keys import SecretBox, build_kek
from taskplane_common.migration_ops import Index, create_indexes

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "notifications"


def upgrade() -> None:
    for column in ("secret_sealed", "previous_secret_sealed", "data_key"):
        op.add_column("webhooks", sa.Column(column, sa.LargeBinary(), nullable=True), schema=SCHEMA)
    op.add_column(
        "webhooks", sa.Column("kek_id", sa.String(length=300), nullable=True), schema=SCHEMA
    )
    _encrypt_existing()
    for column in ("secret_sealed", "data_key", "kek_id"):
        op.alter_column("webhooks", column, nullable=False, schema=SCHEMA)
    op.drop_column("webhooks", "secret", schema=SCHEMA)
    op.drop_column("webhooks", "previous_secret", schema=SCHEMA)
    create_indexes(
        SCHEMA,
        Index(
            "ix_deliveries_finished",
            "deliveries",
            ["finished_at"],
            where="status IN ('succeeded', 'failed')",
        ),
        Index("ix_notifications_read_at", "notifications", ["read_at"], where="read"),
    )


def _encrypt_existing() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, secret, previous_secret FROM notifications.webhooks FOR UPDATE")
    ).all()
    if not rows:
        return
    box = SecretBox(build_kek(Settings()))
    for row in rows:
        row_id = uuid.UUID(str(row.id))
        key = box.new_data_key()
        connection.execute(
            sa.text(
                "UPDATE notifications.webhooks SET secret_sealed = :sealed, "
                "previous_secret_sealed = :previous, data_key = :wrapped, kek_id = :kek_id "
                "WHERE id = :id"
            ),
            {
                "sealed": box.seal(key.plain, row_id, row.secret),
                "previous": (
                    box.seal(key.plain, row_id, row.previous_secret)
                    if row.previous_secret
                    else None
                ),
                "wrapped": key.wrapped,
                "kek_id": key.kek_id,
                "id": row.id,
            },
        )


def downgrade() -> None:
    raise NotImplementedError("secrets stay encrypted: restore a backup to go back")
