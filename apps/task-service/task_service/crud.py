"""Data access for tasks, idempotency keys and events.

The hot paths are fixed SQL texts run through SQLAlchemy Core on a pooled connection of
their own in autocommit (``taskplane_common.db.autocommit``; no ORM session, identity map
or hydration; psycopg prepares a text after its fifth use on a connection), the session only where a
transaction spans statements (an ``Idempotency-Key``'s claim). Each change is one
statement: a data-modifying CTE writes the task row
and its outbox events together, so the event feed can never disagree with the tasks
table. Changes check the version they read in their ``WHERE`` (optimistic: no lock held
between the read and the write). Rows come back as mappings and are turned into the
response body once (:func:`task_document`).
"""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from task_service.models import FINISHED_STATUSES, IdempotencyKey, Priority, Task, TaskStatus
from task_service.pagination import SortKey, after, order_by
from task_service.queue.driver import Statement, statement
from task_service.schemas import TaskCreate, TaskUpdate
from task_service.tracing import current_traceparent
from taskplane_common.db import Row, fetch
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
#: Every column the response needs (a queued task's details included).
COLUMNS = (
    "id, title, description, status, priority, due_at, tags, assignee_id, owner_id, version,"
    " created_at, updated_at, completed_at, queue, " + ", ".join(_QUEUE_FIELDS)
)
#: Admins see every task; anyone else the tasks they own or are assigned.
_VISIBLE = "(CAST(:admin AS boolean) OR owner_id = :user_id OR assignee_id = :user_id)"
_EVENTS_FROM = (
    "INSERT INTO tasks.events (type, task_id, queue, owner_id, data, traceparent)"
    " SELECT e.value->>'type', {source}.id, {source}.queue, {source}.owner_id,"
    " e.value->'data', CAST(:traceparent AS text)"
    " FROM {source}, jsonb_array_elements(CAST(:events AS jsonb)) WITH ORDINALITY AS e(value, n)"
    " ORDER BY e.n"
)
_STORE_RESPONSE = (
    "UPDATE tasks.idempotency_keys SET status_code = :status_code,"
    " response_body = CAST(:body AS jsonb), response_headers = CAST(:headers AS jsonb)"
    " WHERE scope = :scope AND key = :key"
)
_INSERT_TASK = (
    "INSERT INTO tasks.tasks (id, title, description, status, priority, due_at, tags,"
    " tags_normalized, assignee_id, owner_id, version, created_at, updated_at, completed_at)"
    " VALUES (:id, :title, :description, :status, :priority, :due_at, :tags,"
    " :tags_normalized, :assignee_id, :owner_id, 1, :now, :now, :completed_at)"
    " RETURNING id, queue, owner_id"
)
GET = statement("task_get", f"SELECT {COLUMNS} FROM tasks.tasks WHERE id = :id AND {_VISIBLE}")
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
    " WHERE id = :id AND version = :version RETURNING id, queue, owner_id) "
    + _EVENTS_FROM.format(source="task")
    + " RETURNING 1",
)
DELETE = statement(
    "task_delete",
    "WITH task AS (DELETE FROM tasks.tasks WHERE id = :id AND version = :version"
    " RETURNING id, queue, owner_id) " + _EVENTS_FROM.format(source="task") + " RETURNING 1",
)
_FINAL = ", ".join(f"'{s.value}'" for s in FINISHED_STATUSES)
STATS = statement(
    "task_stats",
    "SELECT status, priority, count(*) AS n,"
    f" count(*) FILTER (WHERE due_at < now() AND status NOT IN ({_FINAL})) AS overdue"
    f" FROM tasks.tasks WHERE {_VISIBLE} GROUP BY status, priority",
)


#: Where a statement runs: a pooled connection of its own (``db.autocommit``), or a
#: session's connection and transaction.
Db = AsyncConnection | AsyncSession


async def run(db: Db, sql: Statement, params: Mapping[str, Any]) -> list[Row]:
    return await fetch(db, sql.sql, params)


def _visibility(principal: Principal) -> dict[str, Any]:
    return {"admin": principal.is_admin, "user_id": principal.user_id}


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """The visibility rule as a Core predicate, for the composed list query."""
    if principal.is_admin:
        return true()
    if principal.user_id is None:
        return false()
    return or_(Task.owner_id == principal.user_id, Task.assignee_id == principal.user_id)


def task_document(row: Row) -> dict[str, Any]:
    """The API body of a task row (``TaskOut``'s fields), built once from the row."""
    queue = row["queue"]
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
    db: Db,
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


async def get_task(db: Db, principal: Principal, task_id: uuid.UUID) -> Row | None:
    rows = await run(db, GET, {"id": task_id, **_visibility(principal)})
    return rows[0] if rows else None


@dataclass(frozen=True)
class TaskFilters:
    statuses: Sequence[str] = ()
    priorities: Sequence[str] = ()
    tags: Sequence[str] = ()
    assignee: uuid.UUID | None = None
    unassigned: bool = False
    text: str | None = None
    extra: Sequence[ColumnElement[bool]] = field(default_factory=tuple)

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.statuses:
            query = query.where(Task.status.in_(self.statuses))
        if self.priorities:
            query = query.where(
                Task.priority.in_([Priority.from_label(p) for p in self.priorities])
            )
        if self.tags:
            query = query.where(Task.tags_normalized.contains([t.casefold() for t in self.tags]))
        if self.assignee is not None:
            query = query.where(Task.assignee_id == self.assignee)
        if self.unassigned:
            query = query.where(Task.assignee_id.is_(None))
        if self.text:
            pattern = "%" + _escape_like(self.text) + "%"
            query = query.where(
                or_(
                    Task.title.ilike(pattern, escape="\\"),
                    Task.description.ilike(pattern, escape="\\"),
                )
            )
        for clause in self.extra:
            query = query.where(clause)
        return query


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_tasks(
    db: Db,
    principal: Principal,
    filters: TaskFilters,
    sort: SortKey,
    limit: int,
    cursor: tuple[Any, uuid.UUID] | None,
) -> tuple[list[Row], bool]:
    """One page of task rows and whether another page follows (a Core query: the
    filters compose, SQLAlchemy caches its compiled form per shape)."""
    query = filters.apply(select(*Task.__table__.c).where(visible_to(principal)))
    if cursor is not None:
        query = query.where(after(sort, *cursor))
    query = query.order_by(*order_by(sort)).limit(limit + 1)
    connection = await db.connection() if isinstance(db, AsyncSession) else db
    rows = list(cast(Iterable[Row], (await connection.execute(query)).mappings()))
    return rows[:limit], len(rows) > limit


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


async def update_task(db: Db, task: Row, changes: TaskUpdate) -> Row | None:
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


async def delete_task(db: Db, task: Row) -> bool:
    """Delete ``task`` as read, with its event; False when it changed (or went) since."""
    params = {
        "id": task["id"],
        "version": task["version"],
        "events": _events(("task.deleted", {})),
        "traceparent": current_traceparent(),
    }
    return bool(await run(db, DELETE, params))


async def task_stats(db: Db, principal: Principal) -> dict[str, Any]:
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


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status_code: int
    body: Any
    headers: dict[str, str]


async def claim_idempotency_key(
    session: AsyncSession, scope: str, key: str, request_hash: str, ttl: timedelta
) -> StoredResponse | None:
    """Reserve ``key`` for this request, or return the response stored by its first use.

    A concurrent request with the same key blocks on the primary key until the first
    commits, then sees its stored response: exactly one of them does the work.
    """
    expires = datetime.now(UTC) + ttl
    while True:
        claimed = await session.execute(
            pg_insert(IdempotencyKey)
            .values(scope=scope, key=key, request_hash=request_hash, expires_at=expires)
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        )
        if claimed.first() is not None:
            return None
        reclaimed = await session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
                IdempotencyKey.expires_at < func.now(),
            )
            .values(
                request_hash=request_hash,
                expires_at=expires,
                status_code=None,
                response_body=None,
                response_headers=None,
                created_at=func.now(),
            )
            .returning(IdempotencyKey.key)
        )
        if reclaimed.first() is not None:
            return None
        row = (
            await session.execute(
                select(IdempotencyKey).where(
                    IdempotencyKey.scope == scope, IdempotencyKey.key == key
                )
            )
        ).scalar_one_or_none()
        if row is not None:
            return StoredResponse(
                row.request_hash,
                row.status_code or 0,
                row.response_body,
                row.response_headers or {},
            )
        # The cleaner deleted the expired key between our statements: claim it anew.
