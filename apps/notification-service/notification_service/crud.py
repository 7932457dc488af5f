"""Data access for subscriptions, the delivery log and in-app notifications (callers
commit). Everything is scoped by owner: someone else's row is simply not found."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service.delivery.signing import new_secret
from notification_service.keys import SecretBox
from notification_service.models import Delivery, DeliveryAttempt, Notification, Webhook
from taskplane_common.errors import ProblemError


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps([p.isoformat() if isinstance(p, datetime) else str(p) for p in parts])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[str]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if (
        not isinstance(parts, list)
        or len(parts) != size
        or not all(isinstance(p, str) for p in parts)
    ):
        raise _bad_cursor()
    return parts


def _bad_cursor() -> ProblemError:
    return ProblemError(422, "malformed page cursor", slug="validation-error")


def _position(cursor: str, size: int) -> tuple[list[str], datetime, uuid.UUID]:
    parts = decode_cursor(cursor, size)
    try:
        return parts, datetime.fromisoformat(parts[-2]), uuid.UUID(parts[-1])
    except ValueError as exc:
        raise _bad_cursor() from exc


# Webhook subscriptions.


async def count_webhooks(session: AsyncSession, owner_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(Webhook).where(Webhook.owner_id == owner_id)
    return int((await session.execute(query)).scalar_one())


async def create_webhook(
    session: AsyncSession,
    box: SecretBox,
    owner_id: uuid.UUID,
    url: str,
    events: Sequence[str],
    description: str | None,
) -> tuple[Webhook, str]:
    """The new subscription and its signing secret (stored only sealed)."""
    now = datetime.now(UTC)
    hook_id, secret = uuid.uuid4(), new_secret()
    key = await asyncio.to_thread(box.new_data_key)
    hook = Webhook(
        id=hook_id,
        owner_id=owner_id,
        url=url,
        events=sorted(set(events)),
        description=description,
        secret_sealed=box.seal(key.plain, hook_id, secret),
        data_key=key.wrapped,
        kek_id=key.kek_id,
        enabled=True,
        created_at=now,
        updated_at=now,
    )
    session.add(hook)
    await session.flush()
    return hook, secret


async def list_webhooks(session: AsyncSession, owner_id: uuid.UUID) -> list[Webhook]:
    query = select(Webhook).where(Webhook.owner_id == owner_id).order_by(Webhook.created_at)
    return list((await session.execute(query)).scalars())


async def get_webhook(
    session: AsyncSession, owner_id: uuid.UUID, webhook_id: uuid.UUID, *, lock: bool = False
) -> Webhook:
    query = select(Webhook).where(Webhook.id == webhook_id, Webhook.owner_id == owner_id)
    hook = (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    if hook is None:
        raise ProblemError(404, f"no webhook {webhook_id}", slug="webhook-not-found")
    return hook


def update_webhook(hook: Webhook, changes: dict[str, Any]) -> Webhook:
    """Apply the fields given (only ``description`` may be ``None``: it clears it)."""
    for name, value in changes.items():
        if name == "events":
            value = sorted(set(value))
        if name == "enabled" and value and not hook.enabled:
            hook.disabled_reason = None
            hook.failing_since = None
        setattr(hook, name, value)
    hook.updated_at = datetime.now(UTC)
    return hook


async def rotate_secret(box: SecretBox, hook: Webhook, grace_s: int) -> str:
    """A new secret; the old one keeps signing for ``grace_s`` seconds. Both are sealed
    under the row's data key (the row id is the associated data, so the old sealed
    value moves to ``previous_secret_sealed`` as it is)."""
    now = datetime.now(UTC)
    data_key = await asyncio.to_thread(box.data_key, hook.kek_id, hook.data_key)
    secret = new_secret()
    hook.previous_secret_sealed = hook.secret_sealed if grace_s > 0 else None
    hook.previous_secret_expires_at = now + timedelta(seconds=grace_s) if grace_s > 0 else None
    hook.secret_sealed = box.seal(data_key, hook.id, secret)
    hook.updated_at = now
    return secret


# The delivery log.


async def delivery_page(
    session: AsyncSession, webhook_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[tuple[Delivery, list[DeliveryAttempt]]], str | None]:
    """Newest first; keyset on (created_at, id)."""
    query = select(Delivery).where(Delivery.webhook_id == webhook_id)
    if cursor:
        _, created, last_id = _position(cursor, 2)
        query = query.where(
            or_(
                Delivery.created_at < created,
                and_(Delivery.created_at == created, Delivery.id < last_id),
            )
        )
    rows = list(
        (
            await session.execute(
                query.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit + 1)
            )
        ).scalars()
    )
    page = rows[:limit]
    attempts: dict[uuid.UUID, list[DeliveryAttempt]] = {d.id: [] for d in page}
    if page:
        for attempt in (
            await session.execute(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id.in_(attempts))
                .order_by(DeliveryAttempt.attempt, DeliveryAttempt.id)
            )
        ).scalars():
            attempts[attempt.delivery_id].append(attempt)
    last = page[-1] if len(rows) > limit else None
    next_cursor = encode_cursor(last.created_at, last.id) if last else None
    return [(d, attempts[d.id]) for d in page], next_cursor


async def redeliver(session: AsyncSession, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> None:
    """Attempt now, with the same ``webhook-id``; a finished delivery gets one more
    attempt, a pending one keeps the attempts it has left."""
    changed = await session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.webhook_id == webhook_id,
            Delivery.status.in_(("succeeded", "failed", "pending")),
        )
        .values(
            status="pending",
            next_attempt_at=func.now(),
            max_attempts=func.greatest(Delivery.max_attempts, Delivery.attempts + 1),
            finished_at=None,
        )
        .returning(Delivery.id)
    )
    if changed.first() is not None:
        return
    exists = await session.execute(
        select(Delivery.status).where(Delivery.id == delivery_id, Delivery.webhook_id == webhook_id)
    )
    if exists.first() is None:
        raise ProblemError(404, f"no delivery {delivery_id}", slug="delivery-not-found")
    raise ProblemError(409, "the delivery is being attempted right now", slug="delivery-in-flight")


# In-app notifications.


async def notification_page(
    session: AsyncSession, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Notification], str | None]:
    """Unread first, then newest first; keyset on (read, created_at, id)."""
    query = select(Notification).where(Notification.user_id == user_id)
    if cursor:
        parts, created, last_id = _position(cursor, 3)
        if parts[0] not in {"0", "1"}:
            raise _bad_cursor()
        was_read = parts[0] == "1"
        later: ColumnElement[bool] = or_(
            Notification.created_at < created,
            and_(Notification.created_at == created, Notification.id < last_id),
        )
        if was_read:
            query = query.where(Notification.read.is_(True), later)
        else:
            query = query.where(
                or_(Notification.read.is_(True), and_(Notification.read.is_(False), later))
            )
    rows = list(
        (
            await session.execute(
                query.order_by(
                    Notification.read, Notification.created_at.desc(), Notification.id.desc()
                ).limit(limit + 1)
            )
        ).scalars()
    )
    page = rows[:limit]
    last = page[-1] if len(rows) > limit else None
    next_cursor = encode_cursor(int(last.read), last.created_at, last.id) if last else None
    return page, next_cursor


async def set_read(
    session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID, read: bool
) -> Notification:
    note = (
        await session.execute(
            select(Notification)
            .where(Notification.id == notification_id, Notification.user_id == user_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if note is None:
        raise ProblemError(404, f"no notification {notification_id}", slug="notification-not-found")
    if note.read != read:
        note.read = read
        note.read_at = datetime.now(UTC) if read else None
    return note
