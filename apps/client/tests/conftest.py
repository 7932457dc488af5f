"""Real auth-service and task-service processes on PostgreSQL for the client tests."""

from taskplane_testing.platform import platform

__all__ = ["platform"]
