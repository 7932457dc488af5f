"""The feed consumer: task events in, notifications and outbox rows out, nothing lost.

One page of the feed is routed (recipients and their preferences come from the
user-service, before any transaction opens), then ONE transaction stores everything the
page causes and moves the cursor past it. A crash before the commit re-reads the same
page; a crash after it starts after it. Every row is also unique per event id, so a page
seen twice (two replicas, a retried commit) stores nothing twice.

A 410 Gone from the feed means the cursor fell out of the feed's retained window: events
were lost to this consumer. It is never skipped: the consumer stops, logs an error on
every retry, sets ``taskplane_notification_feed_cursor_expired`` and fails ``/readyz``
until an operator moves the cursor (see the README).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import metrics
from notification_service.config import Settings
from notification_service.content import FeedEvent, email_for, in_app_text, webhook_body
from notification_service.models import (
    ConsumerState,
    Delivery,
    Notification,
    TaskAssignee,
    Webhook,
)
from notification_service.peers import FeedGoneError, Peers, Recipient
from taskplane_common.db import Database

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

CONSUMER = "task-events"
START = "0-0"


@dataclass
class FeedStatus:
    """What ``/readyz`` and the logs say about the feed."""

    gone: bool = False
    detail: str = ""
    cursor: str = START


@dataclass
class _Plan:
    """What one event causes, decided before the transaction."""

    event: FeedEvent
    task_id: uuid.UUID | None
    traceparent: str | None
    recipients: list[Recipient] = field(default_factory=list)
    assignee: tuple[uuid.UUID | None] | None = None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def stored_cursor(database: Database, consumer: str) -> str:
    """The persisted feed cursor of ``consumer`` (created at the feed's start)."""
    async with database.session() as session:
        await session.execute(
            pg_insert(ConsumerState)
            .values(name=consumer, cursor=START)
            .on_conflict_do_nothing(index_elements=[ConsumerState.name])
        )
        cursor: str = (
            await session.execute(
                select(ConsumerState.cursor).where(ConsumerState.name == consumer)
            )
        ).scalar_one()
    return cursor


class FeedConsumer:
    def __init__(
        self, settings: Settings, database: Database, peers: Peers, wake: asyncio.Event
    ) -> None:
        self.settings = settings
        self.database = database
        self.peers = peers
        self.wake = wake
        self.status = FeedStatus()

    async def run(self) -> None:
        await keep_stepping(self.step, "event feed", self.settings.feed_retry_s, self._gone)

    def _gone(self, detail: str) -> None:
        self.status.gone = True
        self.status.detail = detail
        metrics.FEED_CURSOR_EXPIRED.set(1)
        metrics.FEED_ERRORS.labels("gone").inc()
        log.error(
            "EVENT FEED CURSOR EXPIRED: the task-service no longer retains events after "
            "cursor %s (%s). Notifications for the missing events are LOST; nothing is "
            "skipped automatically. Move the cursor deliberately (README: 'Cursor expired').",
            self.status.cursor,
            detail,
        )

    async def load_cursor(self) -> str:
        cursor = await stored_cursor(self.database, CONSUMER)
        self.status.cursor = cursor
        return cursor

    async def step(self) -> int:
        """Read one page after the stored cursor and commit what it causes."""
        cursor = await self.load_cursor()
        page = await self.peers.read_events(cursor)
        if self.status.gone:
            log.warning("event feed answers again after cursor %s", cursor)
        self.status.gone = False
        metrics.FEED_CURSOR_EXPIRED.set(0)
        events = [FeedEvent.from_feed(item) for item in page.get("items", [])]
        self._lag(events)
        if not events:
            return 0
        plans = await self._plan_page(events)
        async with self.database.session() as session:
            stored = (
                await session.execute(
                    select(ConsumerState.cursor)
                    .where(ConsumerState.name == CONSUMER)
                    .with_for_update()
                )
            ).scalar_one()
            if stored != cursor:
                return 0  # another replica committed this page first
            await self._store_page(session, plans)
            await session.execute(
                update(ConsumerState)
                .where(ConsumerState.name == CONSUMER)
                .values(cursor=events[-1].cursor, updated_at=datetime.now(UTC))
            )
        self.status.cursor = events[-1].cursor
        metrics.EVENTS_CONSUMED.inc(len(events))
        metrics.CONSUMER_LAG_EVENTS.set(0)
        metrics.CONSUMER_LAG_SECONDS.set(0)
        self.wake.set()
        return len(events)

    async def record(self, events: list[FeedEvent]) -> None:
        """Route ``events`` and store what they cause without touching the feed cursor:
        the entry of the Lambda handler, whose events come from SNS instead of the feed.
        Every row is unique per event id, so recording an event again stores nothing."""
        plans = await self._plan_page(events)
        async with self.database.session() as session:
            await self._store_page(session, plans)

    @staticmethod
    def _lag(events: list[FeedEvent]) -> None:
        metrics.CONSUMER_LAG_EVENTS.set(len(events))
        oldest = (datetime.now(UTC) - events[0].occurred_at).total_seconds() if events else 0
        metrics.CONSUMER_LAG_SECONDS.set(max(0.0, oldest))

    async def _plan_page(self, events: list[FeedEvent]) -> list[_Plan]:
        """Recipients of every event, before the transaction (it holds no HTTP call).

        The assignee of a task is the one its latest ``task.assigned`` named: stored
        ones are read once per page, changes within the page apply in feed order.
        """
        task_ids = {task for event in events if (task := _uuid(event.task_id))}
        async with self.database.session() as session:
            rows = await session.execute(
                select(TaskAssignee.task_id, TaskAssignee.assignee_id).where(
                    TaskAssignee.task_id.in_(task_ids)
                )
            )
            assignees: dict[uuid.UUID, uuid.UUID | None] = {
                row.task_id: row.assignee_id for row in rows
            }
        plans = []
        for event in events:
            task_id = _uuid(event.task_id)
            carrier = {"traceparent": event.traceparent} if event.traceparent else {}
            with tracer.start_as_current_span(
                "notification.route",
                context=TraceContextTextMapPropagator().extract(carrier),
                attributes={"taskplane.event.id": event.id, "taskplane.event.type": event.type},
            ):
                injected: dict[str, str] = {}
                TraceContextTextMapPropagator().inject(injected)
                plan = _Plan(event, task_id, injected.get("traceparent"))
                if event.type == "task.assigned" and task_id is not None:
                    plan.assignee = (_uuid(event.data.get("assignee_id")),)
                    assignees[task_id] = plan.assignee[0]
                users = [_uuid(event.owner_id), _uuid(event.data.get("assignee_id"))]
                if task_id is not None:
                    users.append(assignees.get(task_id))
                for user in dict.fromkeys(users):
                    if user is not None:
                        plan.recipients.append(await self.peers.recipient(user))
            plans.append(plan)
        return plans

    async def _store_page(self, session: AsyncSession, plans: list[_Plan]) -> None:
        """Everything the page causes, in a few multi-row statements; rows that exist
        already (the same event seen before) are left alone."""
        owners = {r.user_id for plan in plans for r in plan.recipients}
        hooks: dict[uuid.UUID, list[tuple[uuid.UUID, list[str]]]] = {}
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
            if plan.assignee is not None and plan.task_id is not None:
                assigned[plan.task_id] = plan.assignee[0]
            for recipient in plan.recipients:
                self._rows_for(plan, recipient, hooks.get(recipient.user_id, []), notes, outbox)
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

    def _rows_for(
        self,
        plan: _Plan,
        recipient: Recipient,
        hooks: list[tuple[uuid.UUID, list[str]]],
        notes: list[dict[str, Any]],
        outbox: list[dict[str, Any]],
    ) -> None:
        event = plan.event
        channels = recipient.channels_for(event.type)
        common: dict[str, Any] = {
            "event_id": event.id,
            "event_type": event.type,
            "event_occurred_at": event.occurred_at,
            "traceparent": plan.traceparent,
            "max_attempts": self.settings.delivery_max_attempts,
            "status": "pending",
            "user_id": recipient.user_id,
            "webhook_id": None,
            "recipient": None,
        }
        if channels.in_app:
            title, body = in_app_text(event)
            notes.append(
                {
                    "id": uuid.uuid4(),
                    "user_id": recipient.user_id,
                    "event_id": event.id,
                    "kind": event.type,
                    "task_id": plan.task_id,
                    "title": title,
                    "body": body,
                    "data": {"queue": event.queue, **event.data},
                }
            )
        if channels.email and recipient.email and self.settings.smtp_host:
            email = email_for(event, recipient.email).to_json()
            outbox.append(
                {
                    **common,
                    "id": uuid.uuid4(),
                    "channel": "email",
                    "recipient": recipient.email,
                    "payload": email,
                }
            )
        if channels.webhook:
            body = webhook_body(event)
            for hook_id, types in hooks:
                if event.type in types:
                    outbox.append(
                        {
                            **common,
                            "id": uuid.uuid4(),
                            "channel": "webhook",
                            "webhook_id": hook_id,
                            "payload": body,
                        }
                    )


async def keep_stepping(
    step: Callable[[], Awaitable[object]],
    name: str,
    retry_s: float,
    on_gone: Callable[[str], None] | None = None,
) -> None:
    """Run a feed follower's step forever. A failed step is counted, logged and tried
    again after ``retry_s`` from the same cursor (nothing is skipped); an expired cursor
    goes to ``on_gone`` when given."""
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, FeedGoneError) and on_gone is not None:
                on_gone(str(exc))
            else:
                metrics.FEED_ERRORS.labels(type(exc).__name__).inc()
                log.warning("%s step failed: %s: %s", name, type(exc).__name__, exc)
            await asyncio.sleep(retry_s)
