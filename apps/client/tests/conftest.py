"""Real services for the client tests: auth-service and task-service processes on
PostgreSQL (authentication on)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from taskplane_common.testing.platform import Platform, running_platform
from taskplane_common.testing.postgres import PostgresServer


@pytest.fixture(scope="module")
def platform(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[Platform]:
    with running_platform(
        postgres_server, "client_" + request.module.__name__.rsplit(".", 1)[-1]
    ) as running:
        yield running
