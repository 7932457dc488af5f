"""pytest plugin loaded for the whole repository (see the root pyproject.toml).

Gives every test suite a real PostgreSQL server: one per test session, shared, with a
database per service test suite; tests that stop the server start their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from taskplane_testing.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's shared PostgreSQL server (never stop it in a test)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def private_postgres_server() -> Iterator[PostgresServer]:
    """A server of the test's own, for tests that stop and restart PostgreSQL."""
    with PostgresServer(max_connections=50) as server:
        yield server
