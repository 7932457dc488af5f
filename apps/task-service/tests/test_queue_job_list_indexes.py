"""A queue's job list (``GET /queues/{q}/tasks``) walks indexes of the job tables: a
member's the owner index of each, an admin's the finished table's queue index. The plan
of the real statement, on tables holding tens of thousands of other owners' and other
queues' jobs (analyzed), reads those tables through their index with the member (or
the queue) in the index condition, never a sequential scan of a whole table nor a walk
of its primary key past the other queues' jobs. Plan shape only, no timing; as the
planner's custom plan and as the generic plan psycopg's prepared statement may switch
to."""

# The test's SQL is built from module constants only: S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from task_service.listing import queue_tasks_sql
from taskplane_common.migrations import upgrade
from taskplane_testing.postgres import PostgresServer

MEMBER = uuid.uuid4()
QUEUES = 10
FINISHED_ROWS = 60_000
LIVE_ROWS = 12_000
#: Jobs of ``QUEUES`` queues: 40 % without an owner (a service token's), about 1 % the
#: member's, the rest spread over 200 other people.
FILL = """
INSERT INTO tasks.{table} (id, queue, status, priority, title, payload, owner_id, run_at
                           {extra_columns})
SELECT gen_random_uuid(), 'q' || (g %% {queues}), '{status}', 1, 'job', '{{}}',
       CASE WHEN g %% 5 < 2 THEN NULL
            WHEN g %% 97 = 0 THEN %(member)s
            ELSE (SELECT person FROM people WHERE n = g %% 200) END,
       now() - make_interval(secs => g) {extra_values}
FROM generate_series(1, {rows}) AS g
"""
OWNER_INDEXES = {
    "queue_jobs": "ix_queue_jobs_owner",
    "queue_jobs_finished": "ix_queue_jobs_finished_owner",
}
#: The finished table only: the live one's primary key walk is as long as its backlog.
QUEUE_INDEXES = {"queue_jobs_finished": "ix_queue_jobs_finished_queue"}


@pytest.fixture(scope="module")
def filled(postgres_server: PostgresServer) -> Iterator[psycopg.Connection[Any]]:
    url = postgres_server.create_database("queue_owner_index")
    upgrade("task_service", url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TEMP TABLE people AS"
            " SELECT n, gen_random_uuid() AS person FROM generate_series(0, 199) AS n"
        )
        connection.execute(
            "INSERT INTO tasks.queues (name)"
            f" SELECT 'q' || g FROM generate_series(0, {QUEUES - 1}) AS g"
        )
        for fill in (
            {"table": "queue_jobs_finished", "status": "completed", "rows": FINISHED_ROWS},
            {"table": "queue_jobs", "status": "pending", "rows": LIVE_ROWS},
        ):
            finished = fill["table"] == "queue_jobs_finished"
            columns, values = (", finished_at", ", now()") if finished else ("", "")
            statement = FILL.format(
                **fill, queues=QUEUES, extra_columns=columns, extra_values=values
            )
            connection.execute(statement, {"member": MEMBER})
        connection.execute("ANALYZE tasks.queue_jobs, tasks.queue_jobs_finished, tasks.queues")
        yield connection


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _plan(
    connection: psycopg.Connection[Any], explain: str | sql.Composed, params: Any = None
) -> dict[str, Any]:
    """The top plan node of an ``EXPLAIN (FORMAT JSON)``."""
    row = connection.execute(explain, params).fetchone()
    assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    return plan


def _params(by_status: bool, after: bool, admin: bool = False) -> dict[str, Any]:
    """The parameters ``listing.list_queue_tasks`` binds for a member's (or an admin's)
    page."""
    params: dict[str, Any] = {"queue": "q3", "limit": 51}
    if not admin:
        params["user_id"] = MEMBER
    if by_status:
        params["statuses"] = ["pending", "completed"]
    if after:
        params["after_id"] = uuid.UUID(int=1 << 127)
    return params


def _index_used(scan: dict[str, Any]) -> str | None:
    """The index a table scan reads through: its own (an index scan) or its bitmap's."""
    if scan["Node Type"] in ("Index Scan", "Index Only Scan"):
        return str(scan["Index Name"])
    if scan["Node Type"] == "Bitmap Heap Scan":
        (bitmap,) = scan["Plans"]
        return str(bitmap.get("Index Name"))
    return None


def _assert_walks(plan: dict[str, Any], indexes: dict[str, str], key: str) -> None:
    """Each job table of ``indexes`` is read through its index with ``key`` in the index
    condition (a backward index scan, or a bitmap scan when the planner expects only a
    few rows there): no such table is read in full."""
    scans = {
        node["Relation Name"]: node
        for node in _nodes(plan)
        if node.get("Relation Name", "").startswith("queue_jobs")
    }
    assert set(scans) >= set(indexes), scans
    for table, index in indexes.items():
        scan = scans[table]
        assert _index_used(scan) == index, (table, scan)
        condition = scan.get("Index Cond") or scan["Plans"][0]["Index Cond"]
        assert key in condition, (table, scan)


SHAPES = [(False, False), (True, False), (False, True)]


@pytest.mark.parametrize(("by_status", "after"), SHAPES)
def test_a_members_page_walks_the_owner_indexes(
    filled: psycopg.Connection[Any], by_status: bool, after: bool
) -> None:
    statement = queue_tasks_sql("user", by_status, after)
    _assert_walks(
        _plan(filled, "EXPLAIN (FORMAT JSON) " + statement, _params(by_status, after)),
        OWNER_INDEXES,
        "owner_id",
    )


@pytest.mark.parametrize(("by_status", "after"), SHAPES)
def test_an_admins_page_walks_the_queue_indexes(
    filled: psycopg.Connection[Any], by_status: bool, after: bool
) -> None:
    statement = queue_tasks_sql("admin", by_status, after)
    params = _params(by_status, after, admin=True)
    _assert_walks(
        _plan(filled, "EXPLAIN (FORMAT JSON) " + statement, params), QUEUE_INDEXES, "queue"
    )


def _generic_plan(
    connection: psycopg.Connection[Any], statement: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The plan of ``statement`` prepared with positional parameters, forced generic."""
    names = list(params)
    positional = re.sub(
        r"%\((\w+)\)s", lambda match: f"${names.index(match.group(1)) + 1}", statement
    )
    connection.execute("DEALLOCATE ALL")
    connection.execute(f"PREPARE page AS {positional}")
    connection.execute("SET plan_cache_mode = force_generic_plan")
    try:
        arguments = sql.SQL(", ").join(sql.Literal(params[name]) for name in names)
        explain = sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE page({})").format(arguments)
        return _plan(connection, explain)
    finally:
        connection.execute("RESET plan_cache_mode")


@pytest.mark.parametrize(("by_status", "after"), SHAPES)
def test_the_generic_plan_of_a_members_page_walks_them_too(
    filled: psycopg.Connection[Any], by_status: bool, after: bool
) -> None:
    """The generic plan sees only ``owner_id = $n``, which must still imply the indexes'
    ``owner_id IS NOT NULL``."""
    statement = queue_tasks_sql("user", by_status, after)
    plan = _generic_plan(filled, statement, _params(by_status, after))
    _assert_walks(plan, OWNER_INDEXES, "owner_id")


@pytest.mark.parametrize(("by_status", "after"), SHAPES)
def test_the_generic_plan_of_an_admins_page_walks_the_queue_index_too(
    filled: psycopg.Connection[Any], by_status: bool, after: bool
) -> None:
    statement = queue_tasks_sql("admin", by_status, after)
    plan = _generic_plan(filled, statement, _params(by_status, after, admin=True))
    _assert_walks(plan, QUEUE_INDEXES, "queue")
