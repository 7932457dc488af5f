"""Migration 0010 on a database where queues were deleted the old way (their finished
jobs kept, and a job enqueued while one was deleted): those jobs go, the live one with
its ``task.cancelled`` event, and a queue that exists keeps every job and gets no
event."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from taskplane_common.migrations import upgrade
from taskplane_testing.postgres import PostgresServer

#: Jobs of the queue ``kept`` (it exists) and of ``gone`` (deleted before 0010): one
#: live and two finished each.
FILL = """
INSERT INTO tasks.queues (name) VALUES ('kept');
INSERT INTO tasks.queue_jobs (id, queue, status, priority, title, run_at)
SELECT gen_random_uuid(), queue, 'pending', 1, 'live', now()
FROM (VALUES ('kept'), ('gone')) AS q(queue);
INSERT INTO tasks.queue_jobs_finished (id, queue, status, priority, title, run_at,
                                       attempts, finished_at)
SELECT gen_random_uuid(), queue, status, 1, 'finished', now(), 1, now()
FROM (VALUES ('kept'), ('gone')) AS q(queue),
     (VALUES ('completed'), ('dead')) AS s(status);
"""


def _jobs(connection: psycopg.Connection[Any]) -> dict[uuid.UUID, tuple[str, str]]:
    rows = connection.execute("SELECT id, queue, status FROM tasks.queue_tasks").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def test_the_upgrade_deletes_the_jobs_of_deleted_queues(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("orphan_jobs_migration")
    upgrade("task_service", url, "0009")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(FILL)
        before = _jobs(connection)

    upgrade("task_service", url, "0010")

    with psycopg.connect(url, autocommit=True) as connection:
        after = _jobs(connection)
        events = connection.execute(
            "SELECT task_id, type, queue, data FROM tasks.events ORDER BY tx_id, id"
        ).fetchall()
    assert after == {task: job for task, job in before.items() if job[0] == "kept"}
    assert len(after) == 3
    (live,) = [task for task, job in before.items() if job == ("gone", "pending")]
    assert [(task_id, kind, queue) for task_id, kind, queue, _ in events] == [
        (live, "task.cancelled", "gone")
    ]
    assert events[0][3] == {"status": "cancelled", "attempt": 0, "reason": "queue deleted"}
