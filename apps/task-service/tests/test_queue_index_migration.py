"""Migration 0006 on a populated table: queued tasks leave the task API's indexes.

The upgrade rebuilds the API's indexes as partial (``queue IS NULL``) on a table that
already holds plain and queued tasks; afterwards a plain task is in them, a queued task
is not (a transition writes no entry there), and retention's index holds exactly the
finished queued tasks.
"""

from __future__ import annotations

import psycopg

from taskplane_common.migrations import upgrade
from taskplane_testing.postgres import PostgresServer

FILL = """
INSERT INTO tasks.tasks (id, title, status, queue, updated_at)
SELECT gen_random_uuid(), 'history',
       CASE WHEN g % 3 = 0 THEN 'pending' ELSE 'completed' END,
       CASE WHEN g % 2 = 0 THEN 'q' END,
       now() - make_interval(secs => g)
FROM generate_series(1, 3000) AS g
"""

#: Every index of ``tasks.tasks`` with its predicate (NULL: a full index).
PREDICATES = """
SELECT indexrelid::regclass::text AS name,
       pg_get_expr(indpred, indrelid) AS predicate
FROM pg_index WHERE indrelid = 'tasks.tasks'::regclass
"""


def test_the_upgrade_rebuilds_the_api_indexes_on_a_populated_table(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("queue_index_migration")
    upgrade("task_service", url, "0005")
    with psycopg.connect(url) as connection:
        connection.execute(FILL)
    upgrade("task_service", url, "0006")

    with psycopg.connect(url) as connection:
        predicates = dict(connection.execute(PREDICATES).fetchall())
        version = connection.execute("SELECT version_num FROM tasks.alembic_version").fetchone()
        counts = connection.execute(
            "SELECT count(*) FILTER (WHERE queue IS NULL), count(*) FILTER (WHERE queue"
            " IS NOT NULL) FROM tasks.tasks"
        ).fetchone()
        # The rebuilt partial index answers for every plain task already in the table.
        connection.execute("SET enable_seqscan = off")
        plain = connection.execute(
            "SELECT count(*) FROM tasks.tasks WHERE queue IS NULL AND updated_at > '-infinity'"
        ).fetchone()
    assert version == ("0006",)
    for name in (
        "tasks.ix_tasks_updated",
        "tasks.ix_tasks_due",
        "tasks.ix_tasks_priority",
        "tasks.ix_tasks_owner_created",
        "tasks.ix_tasks_assignee_created",
        "tasks.ix_tasks_status_created",
        "tasks.ix_tasks_tags",
    ):
        assert predicates[name] == "(queue IS NULL)", name
    assert predicates["tasks.ix_tasks_created"] is None, "the default listing keeps every task"
    assert "queue IS NOT NULL" in predicates["tasks.ix_tasks_queue_finished"]
    assert counts == (1500, 1500), "the upgrade keeps every row"
    assert plain == (1500,)
