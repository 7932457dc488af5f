"""The crash tests: real task-service replicas and ``taskplane-worker`` processes on one
real PostgreSQL, checked only through what the API says (queue stats, the event feed) and
what the handler itself recorded, so they hold whatever the queue's tables look like."""

from __future__ import annotations

import pytest

from taskplane_common.migrations import upgrade
from taskplane_testing.postgres import PostgresServer


@pytest.fixture
def database(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A fresh, migrated task-service database of the test's own; its URL."""
    url = postgres_server.create_database(f"crash_{request.node.name[:40]}")
    upgrade("task_service", url)
    return url
