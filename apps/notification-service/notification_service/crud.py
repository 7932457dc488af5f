"""Data access for the writes: subscriptions, their secrets, redeliveries and test
deliveries, read marks (callers commit; the hot reads are in ``lists``). Everything is
scoped by owner (an admin may reach any subscription): someone else's row is simply not
found."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service.content import TEST_EVENT, webhook_test_body
from notification_service.delivery.signing import new_secret
from notification_service.keys import SecretBox
from notification_service.models import TEST_EVENT_IDS, Delivery, Notification, Webhook
from taskplane_common.db import Row, fetch
from taskplane_common.errors import ProblemError

#: The fields of a delivery in the delivery log (``DeliveryOut`` but its attempts and
#: ``webhook_message_id``); ``next_attempt_at`` only while one is due.
DELIVERY_FIELDS = (
    "id, webhook_id, event_id, event_type, status, attempts, max_attempts,"
    " CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at,"
    " last_status_code, last_error, created_at, finished_at"
)
QUEUE_TEST_DELIVERY = (
    "INSERT INTO notifications.deliveries (id, channel, webhook_id, user_id, event_id,"  # noqa: S608 - constants only
    " event_type, event_occurred_at, payload, max_attempts)"
    " VALUES (%(id)s, 'webhook', %(webhook_id)s, %(user_id)s, %(event_id)s, %(event_type)s,"
    " %(now)s, %(payload)s, %(max_attempts)s)"
    f" RETURNING {DELIVERY_FIELDS}"
)

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


def webhook_not_found(webhook_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, f"no webhook {webhook_id}", slug="webhook-not-found")


async def get_webhook(
    session: AsyncSession, owner_id: uuid.UUID | None, webhook_id: uuid.UUID, *, lock: bool = False
) -> Webhook:
    """``owner_id``'s subscription; ``None`` for an admin, who may reach anyone's."""
    query = select(Webhook).where(Webhook.id == webhook_id)
    if owner_id is not None:
        query = query.where(Webhook.owner_id == owner_id)
    hook = (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    if hook is None:
        raise webhook_not_found(webhook_id)
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


async def queue_test_delivery(session: AsyncSession, hook: Webhook, max_attempts: int) -> Row:
    """A ``webhook.test`` delivery to ``hook``, due now: an outbox row like any other, so
    the dispatcher signs it, checks its address and retries it the same way. Its event
    id is below zero (``TEST_EVENT_IDS``): no feed event has it."""
    event_id = -int((await session.execute(TEST_EVENT_IDS.next_value())).scalar_one())
    now = datetime.now(UTC)
    params = {
        "id": uuid.uuid4(),
        "webhook_id": hook.id,
        "user_id": hook.owner_id,
        "event_id": event_id,
        "event_type": TEST_EVENT,
        "now": now,
        "payload": webhook_test_body(hook.id, event_id, now),
        "max_attempts": max_attempts,
    }
    (row,) = await fetch(session, QUEUE_TEST_DELIVERY, params)
    return row


# In-app notifications.


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
