"""What a page of plans stores, in one transaction with the cursor: in-app notifications,
the outbox rows of the channels that leave the process (webhook, email) and the tasks'
assignees. A few multi-row statements; every row is unique per event id, so a page seen
twice stores nothing twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import metrics
from notification_service.config import Settings
from notification_service.consumer.routing import Addressee, Plan
from notification_service.content import email_for, in_app_text, webhook_body
from notification_service.models import Delivery, Notification, TaskAssignee, Webhook

#: A subscription as routing needs it: its id and the event types it lists.
Hook = tuple[uuid.UUID, list[str]]


async def store(session: AsyncSession, settings: Settings, plans: list[Plan]) -> None:
    """Everything ``plans`` cause; rows that exist already (the same event seen before)
    are left alone."""
    owners = {a.recipient.user_id for plan in plans for a in plan.addressees}
    hooks: dict[uuid.UUID, list[Hook]] = {}
    for row in await session.execute(
        select(Webhook.id, Webhook.owner_id, Webhook.events).where(
            Webhook.owner_id.in_(owners), Webhook.enabled.is_(True)
        )
    ):
        hooks.setdefault(row.owner_id, []).append((row.id, row.events))
    assigned: dict[uuid.UUID, uuid.UUID | None] = {}
    notes: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    for plan in plans:
        if plan.assignee is not None:
            assigned[plan.event.task_id] = plan.assignee[0]
        for addressee in plan.addressees:
            rows = _rows(settings, plan, addressee, hooks.get(addressee.recipient.user_id, []))
            notes.extend(rows[0])
            outbox.extend(rows[1])
    if assigned:
        insert = pg_insert(TaskAssignee).values(
            [{"task_id": task, "assignee_id": user} for task, user in assigned.items()]
        )
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[TaskAssignee.task_id],
                set_={"assignee_id": insert.excluded.assignee_id},
            )
        )
    if notes:
        created = await session.execute(
            pg_insert(Notification)
            .values(notes)
            .on_conflict_do_nothing()
            .returning(Notification.id)
        )
        metrics.DELIVERIES.labels("in_app", "delivered").inc(len(created.all()))
    if outbox:
        await session.execute(pg_insert(Delivery).values(outbox).on_conflict_do_nothing())


def _rows(
    settings: Settings, plan: Plan, addressee: Addressee, hooks: list[Hook]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The in-app rows and the outbox rows of one event for one addressee."""
    event, user, channels = plan.event, addressee.recipient, addressee.channels
    common: dict[str, Any] = {
        "event_id": event.id,
        "event_type": event.type,
        "event_occurred_at": event.occurred_at,
        "traceparent": plan.traceparent,
        "max_attempts": settings.delivery_max_attempts,
        "status": "pending",
        "user_id": user.user_id,
        "webhook_id": None,
        "recipient": None,
    }
    notes: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    if channels.in_app:
        title, body = in_app_text(event)
        notes.append(
            {
                "id": uuid.uuid4(),
                "user_id": user.user_id,
                "event_id": event.id,
                "kind": event.type,
                "task_id": event.task_id,
                "title": title,
                "body": body,
                "data": {"queue": event.queue, **event.data},
            }
        )
    if channels.email and user.email and settings.smtp_host:
        email = email_for(event, user.email).to_json()
        outbox.append(
            {
                **common,
                "id": uuid.uuid4(),
                "channel": "email",
                "recipient": user.email,
                "payload": email,
            }
        )
    if channels.webhook:
        payload = webhook_body(event)
        outbox.extend(
            {
                **common,
                "id": uuid.uuid4(),
                "channel": "webhook",
                "webhook_id": hook_id,
                "payload": payload,
            }
            for hook_id, types in hooks
            if event.type in types
        )
    return notes, outbox
