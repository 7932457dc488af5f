"""Alembic environment of the task-service (schema ``tasks``)."""

from task_service.models import SCHEMA, Base
from taskplane_common.migrations import run_env

run_env(Base.metadata, SCHEMA)
