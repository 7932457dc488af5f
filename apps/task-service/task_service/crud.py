"""Data access for tasks and their events (the list query: ``listing``; idempotency
keys: ``idempotency``).

The routes' statements are fixed SQL texts run straight through psycopg on a pooled
connection in autocommit (``taskplane_common.db.Driver``; no ORM session, no SQLAlchemy
execution or result layer; psycopg prepares a text after its fifth use on a
connection), in a transaction only where one spans statements (an
``Idempotency-Key``'s claim and its create). Each change is one statement: a
data-modifying CTE writes the task row and its outbox events together, so the event
feed can never disagree with the tasks table. Changes check the version they read in
their ``WHERE`` (optimistic: no lock held between the read and the write). Rows come
back as dicts and are turned into the response body once (:func:`task_document`).
"""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from task_service.models import FINISHED_STATUSES, Priority, Task, TaskStatus
from task_service.queue.driver import Statement, statement
from task_service.schemas import TaskCreate, TaskUpdate
from task_service.tracing import current_traceparent
from taskplane_common.db import Driver, Row
from taskplane_common.errors import ProblemError
from taskplane_common.jsonbody import dumps
from taskplane_common.principals import Principal

_QUEUE_FIELDS = (
    "payload",
    "attempts",
    "max_attempts",
    "run_at",
    "timeout_s",
    "dedupe_key",
    "last_error",
    "result",
)
#: The SQL types of ``_QUEUE_FIELDS``: a plain task's row has them NULL, typed so the
#: two sides of the read by id line up.
_QUEUE_TYPES = ("jsonb", "int", "int", "timestamptz", "int", "text", "text", "jsonb")
#: A plain task's columns (``tasks.tasks`` holds plain tasks only).
COLUMNS = (
    "id, title, description, status, priority, due_at, tags, assignee_id, owner_id, version,"
    " created_at, updated_at, completed_at"
)
#: A queue job's row of ``tasks.queue_tasks`` in the same shape: the plain task's
#: fields a queue job does not have are NULL (no tags), then its queue details.
QUEUE_COLUMNS = (
    "id, title, CAST(NULL AS text) AS description, status, priority,"
    " CAST(NULL AS timestamptz) AS due_at, CAST('{}' AS text[]) AS tags,"
    " CAST(NULL AS uuid) AS assignee_id, owner_id, version, created_at, updated_at,"
    " completed_at, queue, " + ", ".join(_QUEUE_FIELDS)
)
_NO_QUEUE = ", ".join(
    f"CAST(NULL AS {type_}) AS {name}"
    for name, type_ in zip(("queue", *_QUEUE_FIELDS), ("text", *_QUEUE_TYPES), strict=True)
)
#: Admins see every task; anyone else the tasks they own or are assigned.
_VISIBLE = "(CAST(:admin AS boolean) OR owner_id = :user_id OR assignee_id = :user_id)"
#: The same rule for queue jobs, which have no assignee.
_VISIBLE_JOB = "(CAST(:admin AS boolean) OR owner_id = :user_id)"
_EVENTS_FROM = (
    "INSERT INTO tasks.events (type, task_id, queue, owner_id, data, traceparent)"
    " SELECT e.value->>'type', {source}.id, {source}.queue, {source}.owner_id,"
    " e.value->'data', CAST(:traceparent AS text)"
    " FROM {source}, jsonb_array_elements(CAST(:events AS jsonb)) WITH ORDINALITY AS e(value, n)"
    " ORDER BY e.n"
)
#: What a change of a plain task returns for its events (a plain task has no queue).
_PLAIN_RETURNING = " RETURNING id, CAST(NULL AS text) AS queue, owner_id"
_STORE_RESPONSE = (
    "UPDATE tasks.idempotency_keys SET status_code = :status_code,"
    " response_body = CAST(:body AS jsonb), response_headers = CAST(:headers AS jsonb)"
    " WHERE scope = :scope AND key = :key"
)
_INSERT_TASK = (
    "INSERT INTO tasks.tasks (id, title, description, status, priority, due_at, tags,"
    " tags_normalized, assignee_id, owner_id, version, created_at, updated_at, completed_at)"
    " VALUES (:id, :title, :description, :status, :priority, :due_at, :tags,"
    " :tags_normalized, :assignee_id, :owner_id, 1, :now, :now, :completed_at)" + _PLAIN_RETURNING
)
#: A plain task or a queue job (live or finished) by id: one statement, a primary-key
#: lookup in tasks.tasks and in each table under the ``tasks.queue_tasks`` view.
GET = statement(
    "task_get",
    f"SELECT {COLUMNS}, {_NO_QUEUE} FROM tasks.tasks WHERE id = :id AND {_VISIBLE}"
    f" UNION ALL SELECT {QUEUE_COLUMNS} FROM tasks.queue_tasks"
    f" WHERE id = :id AND {_VISIBLE_JOB}",
)
CREATE = statement(
    "task_create", f"WITH task AS ({_INSERT_TASK}) " + _EVENTS_FROM.format(source="task")
)
#: The create, and the response stored for its ``Idempotency-Key``, in one statement.
CREATE_STORED = statement(
    "task_create_stored",
    f"WITH task AS ({_INSERT_TASK}), stored AS ({_STORE_RESPONSE}) "
    + _EVENTS_FROM.format(source="task"),
)
UPDATE = statement(
    "task_update",
    "WITH task AS (UPDATE tasks.tasks SET title = :title, description = :description,"
    " status = :status, priority = :priority, due_at = :due_at, tags = :tags,"
    " tags_normalized = :tags_normalized, assignee_id = :assignee_id,"
    " version = version + 1, updated_at = :now, completed_at = :completed_at"
    " WHERE id = :id AND version = :version"
    + _PLAIN_RETURNING
    + ") "
    + _EVENTS_FROM.format(source="task")
    + " RETURNING 1",
)


def _delete(name: str, table: str, returning: str) -> Statement:
    """Delete the row as read (its version) from ``table`` with its ``task.deleted``
    event, in one statement."""
    return statement(
        name,
        f"WITH task AS (DELETE FROM {table} WHERE id = :id AND version = :version{returning}) "
        + _EVENTS_FROM.format(source="task")
        + " RETURNING 1",
    )


DELETE = _delete("task_delete", "tasks.tasks", _PLAIN_RETURNING)
#: A finished queue job leaves its table with its event; a live one is never deleted
#: here (it is cancelled through its queue first).
DELETE_FINISHED_JOB = _delete(
    "queue_job_delete", "tasks.queue_jobs_finished", " RETURNING id, queue, owner_id"
)
_FINAL = ", ".join(f"'{s.value}'" for s in FINISHED_STATUSES)
STATS = statement(
    "task_stats",
    "SELECT status, priority, count(*) AS n,"
    f" count(*) FILTER (WHERE due_at < now() AND status NOT IN ({_FINAL})) AS overdue"
    f" FROM tasks.tasks WHERE {_VISIBLE} GROUP BY status, priority",
)


async def run(db: Driver, sql: Statement, params: Mapping[str, Any]) -> list[Row]:
    return await db.fetch(sql.sql, params)


def _visibility(principal: Principal) -> dict[str, Any]:
    return {"admin": principal.is_admin, "user_id": principal.user_id}


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """The visibility rule as a Core predicate (the bench's pagination measurement)."""
    if principal.is_admin:
        return true()
    if principal.user_id is None:
        return false()
    return or_(Task.owner_id == principal.user_id, Task.assignee_id == principal.user_id)


def task_document(row: Row) -> dict[str, Any]:
    """The API body of a task row (``TaskOut``'s fields), built once from the row: a
    plain task's row (``COLUMNS``) has no ``queue``, a queue job's (``QUEUE_COLUMNS``)
    names its queue."""
    queue = row.get("queue")
    details = None
    if queue is not None:
        details = {"name": queue, **{name: row[name] for name in _QUEUE_FIELDS}}
        details["payload"] = details["payload"] or {}
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "priority": Priority(row["priority"]).label,
        "due_at": row["due_at"],
        "tags": list(row["tags"]),
        "assignee_id": row["assignee_id"],
        "owner_id": row["owner_id"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "completed_at": row["completed_at"],
        "queue": details,
    }


def _events(*events: tuple[str, dict[str, Any]]) -> str:
    return dumps([{"type": type_, "data": data} for type_, data in events]).decode()


async def create_task(
    db: Driver,
    principal: Principal,
    data: TaskCreate,
    task_id: uuid.UUID,
    store: tuple[str, str, dict[str, str]] | None = None,
) -> bytes:
    """Insert the task and its events in one statement; its JSON body. With ``store``
    (scope, key, headers) the 201 response is stored for that idempotency key in the same
    statement."""
    now = datetime.now(UTC)
    row = {
        "id": task_id,
        "title": data.title,
        "description": data.description,
        "status": data.status,
        "priority": Priority.from_label(data.priority).value,
        "due_at": data.due_at,
        "tags": data.tags,
        "assignee_id": data.assignee_id,
        "owner_id": principal.user_id,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "completed_at": now if data.status == TaskStatus.COMPLETED.value else None,
        "queue": None,
    }
    body = dumps(task_document(row))
    events: list[tuple[str, dict[str, Any]]] = [("task.created", {"status": data.status})]
    if data.assignee_id is not None:
        events.append(("task.assigned", {"assignee_id": str(data.assignee_id)}))
    params = {
        **row,
        "tags_normalized": [tag.casefold() for tag in data.tags],
        "now": now,
        "events": _events(*events),
        "traceparent": current_traceparent(),
    }
    if store is None:
        await run(db, CREATE, params)
    else:
        scope, key, headers = store
        stored = {
            "scope": scope,
            "key": key,
            "status_code": 201,
            "headers": dumps(headers).decode(),
        }
        await run(db, CREATE_STORED, {**params, **stored, "body": body.decode()})
    return body


async def get_task(db: Driver, principal: Principal, task_id: uuid.UUID) -> Row | None:
    rows = await run(db, GET, {"id": task_id, **_visibility(principal)})
    return rows[0] if rows else None


def _changed_row(task: Row, changes: TaskUpdate) -> tuple[dict[str, Any], list[str]]:
    """``task`` with the fields present in ``changes`` applied, and the fields that
    really changed (sorted)."""
    fields = changes.model_fields_set
    if "title" in fields and changes.title is None:
        raise ProblemError(422, "title cannot be null", slug="validation-error")
    after_row = dict(task)
    changed: list[str] = []
    for name in sorted(fields):
        value = getattr(changes, name)
        if name == "priority" and value is not None:
            value = Priority.from_label(value).value
        if name == "tags":
            value = value or []
        if after_row[name] != value:
            after_row[name] = value
            changed.append(name)
    return after_row, changed


async def update_task(db: Driver, task: Row, changes: TaskUpdate) -> Row | None:
    """Apply the fields present in ``changes`` to ``task`` as read (updated, assigned,
    completed, cancelled events); the new row, ``task`` itself when nothing changed, or
    None when the task changed (or went) since it was read."""
    after_row, changed = _changed_row(task, changes)
    if not changed:
        return task
    now = datetime.now(UTC)
    status_moved = after_row["status"] != task["status"]
    if status_moved:
        after_row["completed_at"] = now if after_row["status"] == TaskStatus.COMPLETED else None
    after_row.update(version=task["version"] + 1, updated_at=now)
    events: list[tuple[str, dict[str, Any]]] = [("task.updated", {"fields": changed})]
    if after_row["assignee_id"] != task["assignee_id"]:
        assignee = after_row["assignee_id"]
        events.append(("task.assigned", {"assignee_id": str(assignee) if assignee else None}))
    if status_moved and after_row["status"] == TaskStatus.COMPLETED:
        events.append(("task.completed", {}))
    if status_moved and after_row["status"] == TaskStatus.CANCELLED:
        events.append(("task.cancelled", {}))
    params = {
        **after_row,
        "version": task["version"],
        "tags_normalized": [tag.casefold() for tag in after_row["tags"]],
        "now": now,
        "events": _events(*events),
        "traceparent": current_traceparent(),
    }
    return after_row if await run(db, UPDATE, params) else None


def is_queue_job(task: Row) -> bool:
    """Whether ``task`` (a row of :data:`GET`) is a queue job rather than a plain task."""
    return task.get("queue") is not None


async def delete_task(db: Driver, task: Row) -> bool:
    """Delete ``task`` as read (a plain task, or a finished queue job), with its event;
    False when it changed (or went) since."""
    params = {
        "id": task["id"],
        "version": task["version"],
        "events": _events(("task.deleted", {})),
        "traceparent": current_traceparent(),
    }
    return bool(await run(db, DELETE_FINISHED_JOB if is_queue_job(task) else DELETE, params))


async def task_stats(db: Driver, principal: Principal) -> dict[str, Any]:
    """Counts by status and priority and the overdue ones, from one grouped scan."""
    by_status = dict.fromkeys((s.value for s in TaskStatus), 0)
    by_priority = dict.fromkeys((p.label for p in Priority), 0)
    overdue = 0
    for row in await run(db, STATS, _visibility(principal)):
        by_status[row["status"]] += row["n"]
        by_priority[Priority(row["priority"]).label] += row["n"]
        overdue += row["overdue"]
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_priority": by_priority,
        "overdue": overdue,
    }
