"""Data access for tasks, idempotency keys and events: plain functions over a session.

Callers own the transaction (they commit); every change writes its event row in that
same transaction, so the event feed can never disagree with the tasks table.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, false, func, insert, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from task_service.models import FINAL_STATUSES, Event, IdempotencyKey, Priority, Task, TaskStatus
from task_service.pagination import SortKey, after, order_by
from task_service.schemas import TaskCreate, TaskUpdate
from task_service.tracing import current_traceparent
from taskplane_common.errors import ProblemError
from taskplane_common.security import Principal


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Admins see every task; anyone else sees tasks they own or are assigned."""
    if principal.is_admin:
        return true()
    if principal.user_id is None:
        return false()
    return or_(Task.owner_id == principal.user_id, Task.assignee_id == principal.user_id)


async def record_event(
    session: AsyncSession, type_: str, task: Task, data: dict[str, Any] | None = None
) -> None:
    await session.execute(
        insert(Event).values(
            type=type_,
            task_id=task.id,
            queue=getattr(task, "queue", None),
            owner_id=task.owner_id,
            data=data or {},
            traceparent=current_traceparent(),
        )
    )


async def create_task(session: AsyncSession, principal: Principal, data: TaskCreate) -> Task:
    now = datetime.now(UTC)
    task = Task(
        id=uuid.uuid4(),
        title=data.title,
        description=data.description,
        status=data.status,
        priority=Priority.from_label(data.priority),
        due_at=data.due_at,
        tags=data.tags,
        tags_normalized=[tag.casefold() for tag in data.tags],
        assignee_id=data.assignee_id,
        owner_id=principal.user_id,
        version=1,
        created_at=now,
        updated_at=now,
        completed_at=now if data.status == TaskStatus.COMPLETED.value else None,
    )
    session.add(task)
    await session.flush()
    await record_event(session, "task.created", task, {"status": task.status})
    if task.assignee_id is not None:
        await record_event(session, "task.assigned", task, {"assignee_id": str(task.assignee_id)})
    return task


async def get_task(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, *, for_update: bool = False
) -> Task | None:
    query = select(Task).where(Task.id == task_id, visible_to(principal))
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


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
    session: AsyncSession,
    principal: Principal,
    filters: TaskFilters,
    sort: SortKey,
    limit: int,
    cursor: tuple[Any, uuid.UUID] | None,
) -> tuple[list[Task], bool]:
    """One page of tasks and whether another page follows."""
    query = filters.apply(select(Task).where(visible_to(principal)))
    if cursor is not None:
        query = query.where(after(sort, *cursor))
    query = query.order_by(*order_by(sort)).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    return rows[:limit], len(rows) > limit


async def update_task(session: AsyncSession, task: Task, changes: TaskUpdate) -> Task:
    """Apply the fields present in ``changes``; emits updated/assigned/completed events."""
    fields = changes.model_fields_set
    if "title" in fields and changes.title is None:
        raise ProblemError(422, "title cannot be null", slug="validation-error")
    before_status, before_assignee = task.status, task.assignee_id
    changed: dict[str, Any] = {}
    for name in sorted(fields):
        value = getattr(changes, name)
        if name == "priority" and value is not None:
            value = Priority.from_label(value)
        if name == "tags":
            value = value or []
            task.tags_normalized = [tag.casefold() for tag in value]
        if getattr(task, name) != value:
            setattr(task, name, value)
            changed[name] = value
    if not changed:
        return task
    now = datetime.now(UTC)
    task.version += 1
    task.updated_at = now
    if task.status != before_status:
        task.completed_at = now if task.status == TaskStatus.COMPLETED else None
    await session.flush()
    await record_event(session, "task.updated", task, {"fields": sorted(changed)})
    if task.assignee_id != before_assignee:
        assignee = str(task.assignee_id) if task.assignee_id else None
        await record_event(session, "task.assigned", task, {"assignee_id": assignee})
    if task.status != before_status and task.status == TaskStatus.COMPLETED:
        await record_event(session, "task.completed", task)
    if task.status != before_status and task.status == TaskStatus.CANCELLED:
        await record_event(session, "task.cancelled", task)
    return task


async def delete_task(session: AsyncSession, task: Task) -> None:
    await record_event(session, "task.deleted", task)
    await session.execute(delete(Task).where(Task.id == task.id))


async def task_stats(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    visible = visible_to(principal)
    by_status = dict(
        (
            await session.execute(
                select(Task.status, func.count()).where(visible).group_by(Task.status)
            )
        ).all()
    )
    by_priority_rows = (
        await session.execute(
            select(Task.priority, func.count()).where(visible).group_by(Task.priority)
        )
    ).all()
    overdue = (
        await session.execute(
            select(func.count()).where(
                visible,
                Task.due_at < func.now(),
                Task.status.not_in([s.value for s in FINAL_STATUSES]),
            )
        )
    ).scalar_one()
    return {
        "total": sum(by_status.values()),
        "by_status": {s.value: by_status.get(s.value, 0) for s in TaskStatus},
        "by_priority": {p.label: dict(by_priority_rows).get(p.value, 0) for p in Priority},
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


async def store_idempotent_response(
    session: AsyncSession,
    scope: str,
    key: str,
    status_code: int,
    body: Any,
    headers: dict[str, str],
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        .values(status_code=status_code, response_body=body, response_headers=headers)
    )
