"""Migration 0009 on a database filled through 0008's schema: every queued task moves to
``queue_jobs`` (live) or ``queue_jobs_finished`` (finished) with every field kept, plain
tasks and events stay as they were, a lease held across the upgrade still completes
through the engine, a dedupe key still holds, and downgrade -> upgrade round-trips (the
downgraded schema, ``pg_dump --schema-only``, equal to a fresh 0008's)."""

# The test's SQL is built from module constants only: S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from alembic import command
from psycopg.rows import dict_row

from task_service import queue
from task_service.queue.schemas import TaskEnqueue
from task_service.queue.sql import JOB_COLUMNS
from taskplane_common.migrations import alembic_config, upgrade
from taskplane_common.principals import DEV_PRINCIPAL
from taskplane_testing.postgres import PostgresServer

from .conftest import schema_dump

Q = "moved"
LIVE = ("pending", "scheduled", "retrying", "in_progress")
#: The columns of a plain task that 0009 keeps in ``tasks.tasks``.
PLAIN_COLUMNS = (
    "id, title, description, status, priority, due_at, tags, tags_normalized, assignee_id,"
    " owner_id, version, created_at, updated_at, completed_at"
)
#: A queued task as 0008 stores it: its job columns and what only a finished one has.
QUEUED_COLUMNS = ", ".join(JOB_COLUMNS) + ", result, completed_at"
OWNER = uuid.uuid4()

#: One queued task in every status through 0008's schema; the lease of ``in_progress``
#: is live for an hour, ``pending`` holds a dedupe key.
FILL_QUEUED = f"""
INSERT INTO tasks.tasks (id, title, status, priority, owner_id, queue, payload, attempts,
    max_attempts, run_at, timeout_s, dedupe_key, lease_id, leased_by, leased_at,
    lease_expires_at, last_error, result, traceparent, version, created_at, updated_at,
    completed_at)
SELECT gen_random_uuid(), 'job ' || s.status, s.status, 2, '{OWNER}', '{Q}',
    jsonb_build_object('status', s.status), s.attempts, 3,
    now() + CASE WHEN s.status IN ('scheduled', 'retrying') THEN interval '1 hour'
                 ELSE interval '-1 minute' END,
    30, CASE WHEN s.status = 'pending' THEN 'key' END,
    CASE WHEN s.status = 'in_progress' THEN gen_random_uuid() END,
    CASE WHEN s.status = 'in_progress' THEN 'worker-1' END,
    CASE WHEN s.status IN ('in_progress', 'completed') THEN now() - interval '5 seconds' END,
    CASE WHEN s.status = 'in_progress' THEN now() + interval '1 hour' END,
    CASE WHEN s.status IN ('retrying', 'dead') THEN 'boom' END,
    CASE WHEN s.status = 'completed' THEN '{{"answer": 42}}'::jsonb END,
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', s.attempts + 1,
    now() - interval '1 day', now() - make_interval(secs => s.n),
    CASE WHEN s.status = 'completed' THEN now() - make_interval(secs => s.n) END
FROM (VALUES ('pending', 0, 1), ('scheduled', 0, 2), ('retrying', 1, 3),
             ('in_progress', 1, 4), ('completed', 1, 5), ('cancelled', 0, 6),
             ('dead', 3, 7)) AS s(status, attempts, n)
"""
FILL_PLAIN = f"""
INSERT INTO tasks.tasks (id, title, description, status, priority, due_at, tags,
    tags_normalized, assignee_id, owner_id, completed_at)
VALUES (gen_random_uuid(), 'plain open', 'text', 'in_progress', 3, now() + interval '1 day',
        '{{Ops}}', '{{ops}}', gen_random_uuid(), '{OWNER}', NULL),
       (gen_random_uuid(), 'plain done', NULL, 'completed', 0, NULL, '{{}}', '{{}}', NULL,
        NULL, now())
"""
FILL_EVENTS = """
INSERT INTO tasks.events (type, task_id, queue, owner_id, data)
SELECT 'task.created', id, queue, owner_id, jsonb_build_object('status', status)
FROM tasks.tasks
"""

#: Every index of ``tasks.tasks``, as the catalog writes it.
INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'tasks' AND tablename = 'tasks' ORDER BY indexname
"""


def _rows(connection: psycopg.Connection[Any], sql: str) -> dict[uuid.UUID, dict[str, Any]]:
    with connection.cursor(row_factory=dict_row) as cursor:
        return {row["id"]: row for row in cursor.execute(sql)}


def _queue_tasks(connection: psycopg.Connection[Any]) -> dict[uuid.UUID, dict[str, Any]]:
    return _rows(connection, "SELECT * FROM tasks.queue_tasks")


async def test_the_upgrade_moves_every_queued_task_and_round_trips(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("queue_layout_migration")
    upgrade("task_service", url, "0008")
    with psycopg.connect(url, autocommit=True) as connection:
        for fill in (FILL_QUEUED, FILL_PLAIN, FILL_EVENTS):
            connection.execute(fill)
        connection.execute(f"INSERT INTO tasks.queues (name) VALUES ('{Q}')")
        queued = _rows(
            connection, f"SELECT {QUEUED_COLUMNS} FROM tasks.tasks WHERE queue IS NOT NULL"
        )
        plain = _rows(connection, f"SELECT {PLAIN_COLUMNS} FROM tasks.tasks WHERE queue IS NULL")
        events = connection.execute("SELECT * FROM tasks.events ORDER BY id").fetchall()
        indexes = connection.execute(INDEXES).fetchall()
    assert sorted(row["status"] for row in queued.values()) == sorted(
        [*LIVE, "completed", "cancelled", "dead"]
    )

    upgrade("task_service", url)

    with psycopg.connect(url, autocommit=True) as connection:
        live = _rows(connection, f"SELECT {', '.join(JOB_COLUMNS)} FROM tasks.queue_jobs")
        finished = _rows(
            connection,
            f"SELECT {QUEUED_COLUMNS}, finished_at = updated_at AS at_last_change"
            " FROM tasks.queue_jobs_finished",
        )
        assert _rows(connection, "SELECT * FROM tasks.tasks") == plain
        assert connection.execute("SELECT * FROM tasks.events ORDER BY id").fetchall() == events
    assert (len(live), len(finished)) == (4, 3)
    assert set(live) | set(finished) == set(queued)
    assert not set(live) & set(finished)
    for task_id, row in live.items():
        assert row["status"] in LIVE
        expected = {name: value for name, value in queued[task_id].items() if name in row}
        assert row == expected
        assert queued[task_id]["result"] is None
        assert queued[task_id]["completed_at"] is None
    for task_id, row in finished.items():
        assert row.pop("at_last_change") is True
        assert row == queued[task_id]

    leased = next(row for row in live.values() if row["status"] == "in_progress")
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        outcome = await queue.complete(connection, leased["lease_id"], "worker-1", {"ok": True})
        (again,) = await queue.enqueue(
            connection, DEV_PRINCIPAL, Q, [TaskEnqueue(payload={}, dedupe_key="key")], None
        )
    assert outcome.status == "completed"
    holder = next(row for row in live.values() if row["dedupe_key"] == "key")
    assert (again.id, again.deduplicated) == (holder["id"], True)

    with psycopg.connect(url, autocommit=True) as connection:
        done = _rows(connection, "SELECT * FROM tasks.queue_jobs_finished")[leased["id"]]
        assert (done["status"], done["result"], done["lease_id"]) == (
            "completed",
            {"ok": True},
            None,
        )
        completed_event = connection.execute(
            "SELECT count(*) FROM tasks.events WHERE type = 'task.completed' AND task_id = %s",
            (leased["id"],),
        ).fetchone()
        assert completed_event == (1,)
        before_round_trip = _queue_tasks(connection)
        plain_before = _rows(connection, "SELECT * FROM tasks.tasks")

    config = alembic_config("task_service", url)
    command.downgrade(config, "0008")
    with psycopg.connect(url, autocommit=True) as connection:
        down = _rows(connection, "SELECT * FROM tasks.tasks WHERE queue IS NOT NULL")
        assert set(down) == set(before_round_trip)
        assert len(_rows(connection, "SELECT id FROM tasks.tasks WHERE queue IS NULL")) == 2
        assert connection.execute(INDEXES).fetchall() == indexes, "0008's indexes are back"
    fresh_url = postgres_server.create_database("queue_layout_migration_fresh")
    upgrade("task_service", fresh_url, "0008")
    assert schema_dump(postgres_server, url) == schema_dump(postgres_server, fresh_url), (
        "the schema after the downgrade, with its data, is a fresh 0008's"
    )
    upgrade("task_service", url)
    with psycopg.connect(url, autocommit=True) as connection:
        assert _queue_tasks(connection) == before_round_trip
        assert _rows(connection, "SELECT * FROM tasks.tasks") == plain_before
