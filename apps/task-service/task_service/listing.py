"""The list queries: the task list's (plain tasks) and a queue's job list, each with
its filters, visibility and keyset position as one SQL text.

The text depends only on the request's shape (which filters are present, the sort, the
kind of cursor), so it is built once per shape and cached; psycopg then prepares each
shape after its fifth run on a connection. The rows come back as dicts, turned into the
response body once (``crud.task_document``).
"""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from task_service.crud import COLUMNS, QUEUE_COLUMNS
from task_service.models import Priority
from task_service.pagination import SortKey
from taskplane_common.db import Driver, Row
from taskplane_common.principals import Principal

_FILTERS = {
    "statuses": "status = ANY(%(statuses)s)",
    "priorities": "priority = ANY(%(priorities)s)",
    "tags": "tags_normalized @> %(tags)s",
    "assignee": "assignee_id = %(assignee)s",
    "unassigned": "assignee_id IS NULL",
    "pattern": "(title ILIKE %(pattern)s ESCAPE '\\' OR description ILIKE %(pattern)s ESCAPE '\\')",
}
_VISIBILITY = {
    "admin": None,
    "nobody": "false",
    "user": "(owner_id = %(user_id)s OR assignee_id = %(user_id)s)",
}


@dataclass(frozen=True)
class TaskFilters:
    statuses: Sequence[str] = ()
    priorities: Sequence[str] = ()
    tags: Sequence[str] = ()
    assignee: uuid.UUID | None = None
    unassigned: bool = False
    text: str | None = None

    def params(self) -> dict[str, Any]:
        """The parameters of the filters present, by their names in ``_FILTERS``
        (``unassigned`` has none: True marks it present)."""
        params: dict[str, Any] = {}
        if self.statuses:
            params["statuses"] = list(self.statuses)
        if self.priorities:
            params["priorities"] = [Priority.from_label(p).value for p in self.priorities]
        if self.tags:
            params["tags"] = [tag.casefold() for tag in self.tags]
        if self.assignee is not None:
            params["assignee"] = self.assignee
        if self.unassigned:
            params["unassigned"] = True
        if self.text:
            params["pattern"] = "%" + _escape_like(self.text) + "%"
        return params


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _order(column: str, descending: bool, nullable: bool) -> str:
    """The sort column then the id, both in the sort's direction; nulls always last
    (non-null columns exactly like their ``(column, id)`` index)."""
    direction = "DESC" if descending else "ASC"
    nulls = " NULLS LAST" if nullable else ""
    return f"{column} {direction}{nulls}, id {direction}"


def _after(column: str, descending: bool, nullable: bool, null_value: bool) -> str:
    """Rows strictly after the cursor's ``(value, id)`` in the order of :func:`_order`."""
    less = "<" if descending else ">"
    if not nullable:
        # A row-value comparison starts the index scan at the cursor.
        return f"({column}, id) {less} (%(after_value)s, %(after_id)s)"
    id_after = f"id {less} %(after_id)s"
    if null_value:
        return f"({column} IS NULL AND {id_after})"
    return (
        f"({column} {less} %(after_value)s OR ({column} = %(after_value)s AND {id_after})"
        f" OR {column} IS NULL)"
    )


@lru_cache(maxsize=1024)
def list_sql(
    visibility: str, filters: tuple[str, ...], sort: tuple[str, bool, bool], cursor: str | None
) -> str:
    """The list query of one shape: ``sort`` is (column, descending, nullable),
    ``cursor`` None, ``"value"`` or ``"null"`` (the cursor's sort value is NULL)."""
    where = [_FILTERS[name] for name in filters]
    if (seen := _VISIBILITY[visibility]) is not None:
        where.insert(0, seen)
    if cursor is not None:
        where.append(_after(*sort, null_value=cursor == "null"))
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {COLUMNS} FROM tasks.tasks{condition} ORDER BY {_order(*sort)} LIMIT %(limit)s"


def _visibility(principal: Principal, params: dict[str, Any]) -> str:
    """The principal's visibility rule (a ``_VISIBILITY`` key), its parameter added."""
    if principal.is_admin:
        return "admin"
    params["user_id"] = principal.user_id
    return "user" if principal.user_id is not None else "nobody"


async def list_tasks(
    db: Driver,
    principal: Principal,
    filters: TaskFilters,
    sort: SortKey,
    limit: int,
    cursor: tuple[Any, uuid.UUID] | None,
) -> tuple[list[Row], bool]:
    """One page of task rows and whether another page follows."""
    params = filters.params()
    shape = tuple(params)
    params.pop("unassigned", None)
    visibility = _visibility(principal, params)
    position = None
    if cursor is not None:
        value, last_id = cursor
        position = "null" if value is None else "value"
        params.update(after_value=value, after_id=last_id)
    params["limit"] = limit + 1
    sql = list_sql(visibility, shape, (sort.column.key, sort.descending, sort.nullable), position)
    rows = await db.fetch(sql, params)
    return rows[:limit], len(rows) > limit


_JOB_VISIBILITY = {
    "admin": None,
    "nobody": "false",
    # Queue jobs have no assignee.
    "user": "owner_id = %(user_id)s",
}


@lru_cache(maxsize=64)
def queue_tasks_sql(visibility: str, by_status: bool, after: bool) -> str:
    """One page of a queue's jobs, newest first (UUIDv7 ids are creation order), from
    ``tasks.queue_tasks``: a backward walk of the primary key of each table under the
    view, merged. The queue's row is joined first, so an unknown queue is no row at
    all and a known one without jobs is one row of NULLs."""
    where = ["queue = %(queue)s"]
    if (seen := _JOB_VISIBILITY[visibility]) is not None:
        where.append(seen)
    if by_status:
        where.append("status = ANY(%(statuses)s)")
    if after:
        where.append("id < %(after_id)s")
    page = (
        f"SELECT {QUEUE_COLUMNS} FROM tasks.queue_tasks WHERE {' AND '.join(where)}"
        " ORDER BY id DESC LIMIT %(limit)s"
    )
    return (
        f"SELECT page.* FROM tasks.queues LEFT JOIN LATERAL ({page}) AS page ON true"
        " WHERE tasks.queues.name = %(queue)s ORDER BY page.id DESC"
    )


async def list_queue_tasks(
    db: Driver,
    principal: Principal,
    queue: str,
    statuses: Sequence[str],
    limit: int,
    after: uuid.UUID | None,
) -> tuple[list[Row], bool] | None:
    """One page of ``queue``'s jobs (live and finished) the principal may see, and
    whether another page follows; None when the queue does not exist."""
    params: dict[str, Any] = {"queue": queue, "limit": limit + 1}
    if statuses:
        params["statuses"] = list(statuses)
    if after is not None:
        params["after_id"] = after
    visibility = _visibility(principal, params)
    sql = queue_tasks_sql(visibility, bool(statuses), after is not None)
    rows = await db.fetch(sql, params)
    if not rows:
        return None
    rows = [row for row in rows if row["id"] is not None]
    return rows[:limit], len(rows) > limit
