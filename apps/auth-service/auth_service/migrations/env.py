"""Alembic environment of the auth-service (schema ``auth``)."""

from auth_service.models import SCHEMA, Base
from taskplane_common.migrations import run_env

run_env(Base.metadata, SCHEMA)
