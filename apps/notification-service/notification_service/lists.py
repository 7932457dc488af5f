"""The hot reads: my webhooks, a delivery log page, a notification page, the unread count.

Fixed SQL texts on a pooled connection in autocommit (``Database.driver``: psycopg under
the engine's pool, no ORM session, identity map or hydration; psycopg prepares a text
after its fifth use on a connection). Each selects exactly the fields of its response
model, and each row becomes its response body once (a dict the route hands
to ``FastJSONResponse``). Everything is scoped by owner: someone else's row is not found.
"""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any

from notification_service.crud import DELIVERY_FIELDS, webhook_not_found
from notification_service.delivery.signing import message_id
from taskplane_common.db import Driver, Row
from taskplane_common.errors import ProblemError

Document = dict[str, Any]

_WEBHOOK_FIELDS = (
    "id, url, events, description, enabled, disabled_reason, failing_since,"
    " previous_secret_expires_at, created_at, updated_at"
)
LIST_WEBHOOKS = (
    f"SELECT {_WEBHOOK_FIELDS} FROM notifications.webhooks"
    " WHERE owner_id = %(owner)s ORDER BY created_at"
)
OWNED_WEBHOOK = (
    "SELECT 1 FROM notifications.webhooks WHERE id = %(webhook_id)s AND owner_id = %(owner)s"
)
_AFTER = "(created_at, id) < (%(created_at)s, %(id)s)"


#: Whose deliveries: one subscription's, or those of every subscription of an owner.
_ONE_WEBHOOK = "webhook_id = %(webhook_id)s"
_MY_WEBHOOKS = "webhook_id IN (SELECT id FROM notifications.webhooks WHERE owner_id = %(owner)s)"


def _delivery_page(scope: str, by_event: bool, after: bool) -> str:
    """Newest first; keyset on (created_at, id); ``by_event``: one event's deliveries."""
    where = f"{scope} AND channel = 'webhook'"
    where += " AND event_id = %(event_id)s" if by_event else ""
    where += f" AND {_AFTER}" if after else ""
    return (
        f"SELECT {DELIVERY_FIELDS} FROM notifications.deliveries WHERE {where}"
        " ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
    )


DELIVERY_PAGES = {
    (one, e, a): _delivery_page(_ONE_WEBHOOK if one else _MY_WEBHOOKS, e, a)
    for one in (False, True)
    for e in (False, True)
    for a in (False, True)
}
ATTEMPTS = (
    "SELECT delivery_id, attempt, started_at, duration_ms, outcome, status_code, error,"
    " next_attempt_at FROM notifications.delivery_attempts"
    " WHERE delivery_id = ANY(%(ids)s) ORDER BY attempt, id"
)


def _notification_page(after: str) -> str:
    """Unread first, then newest first; keyset on (read, created_at, id)."""
    return (
        "SELECT id, kind, task_id, title, body, data, read, read_at, created_at"
        f" FROM notifications.notifications WHERE user_id = %(user)s{after}"
        " ORDER BY read, created_at DESC, id DESC LIMIT %(limit)s"
    )


#: By the cursor's position: none, among the unread ("0"), among the read ("1").
NOTIFICATION_PAGES = {
    None: _notification_page(""),
    "0": _notification_page(f" AND (read OR (NOT read AND {_AFTER}))"),
    "1": _notification_page(f" AND read AND {_AFTER}"),
}
UNREAD = (
    "SELECT count(*) AS unread FROM notifications.notifications"
    " WHERE user_id = %(user)s AND NOT read"
)


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps([p.isoformat() if isinstance(p, datetime) else str(p) for p in parts])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _bad_cursor() -> ProblemError:
    return ProblemError(422, "malformed page cursor", slug="validation-error")


def _position(cursor: str, size: int) -> tuple[list[str], dict[str, Any]]:
    """The cursor's parts, and its last two as the keyset parameters (time, id)."""
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (
            isinstance(parts, list)
            and len(parts) == size
            and all(isinstance(p, str) for p in parts)
        ):
            raise _bad_cursor()
        return parts, {
            "created_at": datetime.fromisoformat(parts[-2]),
            "id": uuid.UUID(parts[-1]),
        }
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc


async def webhooks(db: Driver, owner: uuid.UUID) -> list[Document]:
    return [dict(row) for row in await db.fetch(LIST_WEBHOOKS, {"owner": owner})]


async def delivery_page(
    db: Driver,
    owner: uuid.UUID,
    webhook_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
    event_id: int | None = None,
) -> Document:
    """One page of the delivery log of one subscription, or of all ``owner``'s
    (``webhook_id`` None), each delivery with its attempts."""
    if webhook_id is not None and not await db.fetch(
        OWNED_WEBHOOK, {"webhook_id": webhook_id, "owner": owner}
    ):
        raise webhook_not_found(webhook_id)
    params: dict[str, Any] = {
        "owner": owner,
        "webhook_id": webhook_id,
        "event_id": event_id,
        "limit": limit + 1,
    }
    if cursor:
        params.update(_position(cursor, 2)[1])
    statement = DELIVERY_PAGES[webhook_id is not None, event_id is not None, bool(cursor)]
    rows = await db.fetch(statement, params)
    page = rows[:limit]
    attempts: dict[uuid.UUID, list[Document]] = {row["id"]: [] for row in page}
    if page:
        for attempt in await db.fetch(ATTEMPTS, {"ids": list(attempts)}):
            log = dict(attempt)
            attempts[log.pop("delivery_id")].append(log)
    items = [delivery_document(row, attempts[row["id"]]) for row in page]
    last = page[-1] if len(rows) > limit else None
    next_cursor = encode_cursor(last["created_at"], last["id"]) if last else None
    return {"items": items, "next_cursor": next_cursor}


def delivery_document(row: Row, attempt_log: list[Document]) -> Document:
    """``DeliveryOut`` of a delivery row (its ``webhook-id`` derived from its id)."""
    return {**row, "webhook_message_id": message_id(row["id"].hex), "attempt_log": attempt_log}


async def notification_page(
    db: Driver, user: uuid.UUID, limit: int, cursor: str | None
) -> Document:
    params: dict[str, Any] = {"user": user, "limit": limit + 1}
    read: str | None = None
    if cursor:
        parts, position = _position(cursor, 3)
        read = parts[0]
        if read not in NOTIFICATION_PAGES:
            raise _bad_cursor()
        params.update(position)
    rows = await db.fetch(NOTIFICATION_PAGES[read], params)
    page = [dict(row) for row in rows[:limit]]
    last = page[-1] if len(rows) > limit else None
    next_cursor = encode_cursor(int(last["read"]), last["created_at"], last["id"]) if last else None
    return {"items": page, "next_cursor": next_cursor}


async def unread_count(db: Driver, user: uuid.UUID) -> Document:
    (row,) = await db.fetch(UNREAD, {"user": user})
    return dict(row)
