"""Real auth-service and task-service processes on PostgreSQL for the client tests."""

from taskplane_common.testing.platform import platform

__all__ = ["platform"]
