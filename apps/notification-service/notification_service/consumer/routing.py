"""Who an event reaches, on which channels: decided before any transaction opens (the
user-service lookups are HTTP calls, and the transaction holds none).

The recipients of an event are the task's owner and its assignee. The assignee is the one
the task's latest ``task.assigned`` named: stored ones are read once per page, changes
within the page apply in feed order. Each event gets its routing span
(``notification.route``), continuing the trace the event carries; the deliveries it
causes continue from that span.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import select

from notification_service.models import TaskAssignee
from notification_service.recipients import Channels, Recipient, Recipients
from taskplane_client.models import Event
from taskplane_common.db import Database

tracer = trace.get_tracer(__name__)


@dataclass(frozen=True)
class Addressee:
    """One recipient of one event and the channels it chose for that event type."""

    recipient: Recipient
    channels: Channels


@dataclass
class Plan:
    """What one event causes."""

    event: Event
    #: The routing span's context, stored with every delivery of the event.
    traceparent: str | None
    addressees: list[Addressee] = field(default_factory=list)
    #: ``(assignee,)`` when the event (re)assigns its task (``(None,)``: unassigned).
    assignee: tuple[uuid.UUID | None] | None = None


def as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def plan(database: Database, recipients: Recipients, events: list[Event]) -> list[Plan]:
    """The plan of every event of a page, in feed order."""
    async with database.session() as session:
        rows = await session.execute(
            select(TaskAssignee.task_id, TaskAssignee.assignee_id).where(
                TaskAssignee.task_id.in_({event.task_id for event in events})
            )
        )
        assignees: dict[uuid.UUID, uuid.UUID | None] = {
            row.task_id: row.assignee_id for row in rows
        }
    plans = []
    for event in events:
        traceparent = event.traceparent or event.data.get("traceparent")
        carrier = {"traceparent": traceparent} if traceparent else {}
        with tracer.start_as_current_span(
            "notification.route",
            context=TraceContextTextMapPropagator().extract(carrier),
            attributes={"taskplane.event.id": event.id, "taskplane.event.type": event.type},
        ):
            injected: dict[str, str] = {}
            TraceContextTextMapPropagator().inject(injected)
            step = Plan(event, injected.get("traceparent"))
            if event.type == "task.assigned":
                step.assignee = (as_uuid(event.data.get("assignee_id")),)
                assignees[event.task_id] = step.assignee[0]
            users = [
                event.owner_id,
                as_uuid(event.data.get("assignee_id")),
                assignees.get(event.task_id),
            ]
            for user in dict.fromkeys(users):
                if user is not None:
                    recipient = await recipients.recipient(user)
                    step.addressees.append(Addressee(recipient, recipient.channels_for(event.type)))
        plans.append(step)
    return plans
