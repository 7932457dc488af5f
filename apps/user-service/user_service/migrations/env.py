"""Alembic environment of the user-service (schema ``users``)."""

from taskplane_common.migrations import run_env
from user_service.models import SCHEMA, Base

run_env(Base.metadata, SCHEMA)
