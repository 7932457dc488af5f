"""Alembic environment of the notification-service (schema ``notifications``)."""

from notification_service.models import SCHEMA, Base
from taskplane_common.migrations import run_env

run_env(Base.metadata, SCHEMA)
