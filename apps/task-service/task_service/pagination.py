"""Keyset pagination: signed, opaque cursors and the predicates that follow them.

A cursor names the sort and the last row's sort key and id. It is signed with HMAC so a
tampered or forged cursor is refused (400) rather than silently returning other rows.
Ordering is total (sort key, then id), so each row appears exactly once however many
rows are inserted while a client pages through.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, literal, or_, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from task_service.models import Task
from taskplane_common.errors import ProblemError


@dataclass(frozen=True)
class SortKey:
    name: str
    column: InstrumentedAttribute[Any]
    descending: bool
    nullable: bool
    is_datetime: bool

    def value_of(self, task: object) -> Any:
        return getattr(task, self.column.key)


_COLUMNS: dict[str, tuple[InstrumentedAttribute[Any], bool, bool]] = {
    "created_at": (Task.created_at, False, True),
    "updated_at": (Task.updated_at, False, True),
    "due_at": (Task.due_at, True, True),
    "priority": (Task.priority, False, False),
}
SortOption = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "due_at",
    "-due_at",
    "priority",
    "-priority",
]
SORT_OPTIONS = sorted([*_COLUMNS, *(f"-{name}" for name in _COLUMNS)])
#: A queue's job list: by id alone, newest first (UUIDv7 ids are creation order). Not
#: a sort the task list offers, so neither list takes the other's cursor.
NEWEST_ID_FIRST = SortKey("-id", Task.id, True, False, False)
DEFAULT_SORT: SortOption = "-created_at"
#: What ``encode`` writes: the base64url JSON body, a dot, the base64url HMAC-SHA256/128.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$"


def parse_sort(sort: str) -> SortKey:
    name = sort.removeprefix("-")
    if name not in _COLUMNS:
        raise ProblemError(
            422,
            f"unknown sort {sort!r}; use one of: {', '.join(SORT_OPTIONS)}",
            slug="invalid-sort",
        )
    column, nullable, is_datetime = _COLUMNS[name]
    return SortKey(sort, column, sort.startswith("-"), nullable, is_datetime)


def order_by(key: SortKey) -> list[ColumnElement[Any]]:
    """The sort column then the id, both in the sort's direction; nulls always last.

    Non-null columns are ordered exactly like their ``(column, id)`` index, so PostgreSQL
    walks the index (forwards or backwards) instead of sorting the table.
    """
    column = key.column.desc() if key.descending else key.column.asc()
    if key.nullable:
        column = column.nulls_last()
    return [column, Task.id.desc() if key.descending else Task.id.asc()]


def after(key: SortKey, value: Any, last_id: uuid.UUID) -> ColumnElement[bool]:
    """Rows strictly after ``(value, last_id)`` in the order of :func:`order_by`."""
    column = key.column
    if not key.nullable:
        # A row-value comparison starts the index scan at the cursor.
        position, cursor = tuple_(column, Task.id), tuple_(literal(value), literal(last_id))
        return position < cursor if key.descending else position > cursor
    id_after = Task.id < last_id if key.descending else Task.id > last_id
    if value is None:
        return and_(column.is_(None), id_after)
    beyond = column < value if key.descending else column > value
    return or_(beyond, and_(column == value, id_after), column.is_(None))


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, payload: bytes) -> str:
        digest = hmac.new(self._secret, payload, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def encode(self, key: SortKey, task: object) -> str:
        """The cursor after ``task`` (a ``Task`` row, or any object with its attributes)."""
        value = key.value_of(task)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, uuid.UUID):
            value = str(value)
        task_id = str(getattr(task, "id"))  # noqa: B009 - any object with an id
        payload = json.dumps({"s": key.name, "v": value, "i": task_id}, separators=(",", ":"))
        body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{body}.{self._sign(payload.encode())}"

    def decode(self, cursor: str, key: SortKey) -> tuple[Any, uuid.UUID]:
        """The last row's sort value and id; 400 if the cursor was altered or is foreign."""
        invalid = ProblemError(
            400,
            "the cursor is invalid or was altered; restart from the first page",
            slug="invalid-cursor",
        )
        try:
            body, signature = cursor.split(".", 1)
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, binascii.Error) as exc:
            raise invalid from exc
        if not hmac.compare_digest(self._sign(payload), signature):
            raise invalid
        try:
            data = json.loads(payload)
            last_id = uuid.UUID(data["i"])
            value = data["v"]
            if value is not None and key.is_datetime:
                value = datetime.fromisoformat(value)
        except (ValueError, KeyError, TypeError) as exc:
            raise invalid from exc
        if data.get("s") != key.name:
            raise ProblemError(
                400,
                f"the cursor belongs to sort {data.get('s')!r}, not {key.name!r}",
                slug="invalid-cursor",
            )
        return value, last_id
