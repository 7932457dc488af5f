"""The line a failed start-up attempt logs: one line, its cause, never the password."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
import pytest

from auth_service.bootstrap import failure_cause
from taskplane_testing.processes import nowhere_url

PASSWORD = "pw-1234"


def test_a_refused_connection_is_one_line_naming_it() -> None:
    nowhere = urlsplit(nowhere_url()).netloc
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"postgresql://u:{PASSWORD}@{nowhere}/x", connect_timeout=10)
    cause = failure_cause(refused.value, PASSWORD)
    assert "\n" not in cause
    assert cause.startswith("cannot use the database: ")
    assert "Connection refused" in cause


def test_a_missing_schema_asks_for_the_migration(auth_db_url: str) -> None:
    with psycopg.connect(auth_db_url) as connection, pytest.raises(psycopg.Error) as missing:
        connection.execute("SELECT 1 FROM auth.no_such_table")
    cause = failure_cause(missing.value, None)
    assert cause.startswith('the schema is missing: relation "auth.no_such_table" does not exist')
    assert cause.endswith("(has `python -m auth_service migrate` run?)")


def test_the_password_is_masked_where_it_stands_alone() -> None:
    quoted = psycopg.OperationalError(f"login as u:{PASSWORD}@db failed\nport 5432, {PASSWORD}")
    assert failure_cause(quoted, PASSWORD) == (
        "cannot use the database: login as u:***@db failed "
        "(check DATABASE_URL and that PostgreSQL is running)"
    )
    short = psycopg.OperationalError("u:p@db refused on port 5432")
    assert "u:***@db refused on port 5432" in failure_cause(short, "p")
