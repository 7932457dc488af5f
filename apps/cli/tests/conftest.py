"""Real auth-service and task-service processes on PostgreSQL for the CLI tests."""

from taskplane_common.testing.platform import platform

__all__ = ["platform"]
