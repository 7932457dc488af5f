"""What an attempt's outcome does: the row in the delivery log, the delivery succeeded,
retried after a backoff (exponential with jitter, up to ``max_attempts``) or failed,
and the subscription's health (disabled after failing for too long, its owner told
in-app).
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import metrics
from notification_service.config import Settings
from notification_service.delivery.claims import Claimed
from notification_service.models import Delivery, DeliveryAttempt, Notification, Webhook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    #: Retrying cannot help (a forbidden address): fail the delivery now.
    permanent: bool = False


def backoff_s(settings: Settings, attempt: int) -> float:
    """Exponential in the attempt number, capped, with "equal jitter" (half fixed, half
    random) so retries of many deliveries spread out instead of arriving together."""
    ceiling = min(
        settings.delivery_backoff_max_s, settings.delivery_backoff_base_s * 2.0 ** (attempt - 1)
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not security


async def record(
    session: AsyncSession,
    delivery: Claimed,
    result: AttemptResult,
    started: datetime,
    duration_ms: int,
    settings: Settings,
) -> None:
    """The attempt in the delivery log and its outcome on the delivery: succeeded, retried
    after a backoff, or failed for good; the subscription's health follows."""
    now = datetime.now(UTC)
    exhausted = result.permanent or delivery.attempts >= delivery.max_attempts
    next_at = (
        None
        if result.ok or exhausted
        else now + timedelta(seconds=backoff_s(settings, delivery.attempts))
    )
    outcome = "delivered" if result.ok else ("failed" if exhausted else "retry")
    changed = await session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery.id,
            Delivery.status == "delivering",
            Delivery.attempts == delivery.attempts,
        )
        .values(
            status={"delivered": "succeeded", "failed": "failed", "retry": "pending"}[outcome],
            next_attempt_at=next_at or now,
            lease_until=None,
            last_status_code=result.status_code,
            last_error=result.error,
            finished_at=None if next_at else now,
        )
        .returning(Delivery.id)
    )
    if changed.first() is None:
        return  # the lease expired and another sender took over: its result counts
    await session.execute(
        insert(DeliveryAttempt).values(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            started_at=started,
            duration_ms=duration_ms,
            outcome=outcome,
            status_code=result.status_code,
            error=result.error,
            next_attempt_at=next_at,
        )
    )
    metrics.DELIVERIES.labels(delivery.channel, outcome).inc()
    if result.ok:
        metrics.DELIVERY_LATENCY.labels(delivery.channel).observe(
            max(0.0, (now - delivery.event_occurred_at).total_seconds())
        )
    if delivery.webhook_id is not None:
        await track_health(session, settings, delivery.webhook_id, ok=result.ok, now=now)


async def track_health(
    session: AsyncSession, settings: Settings, webhook_id: uuid.UUID, *, ok: bool, now: datetime
) -> None:
    """A success clears ``failing_since``; failing for longer than
    ``TASKPLANE_WEBHOOK_DISABLE_AFTER_S`` disables the subscription and tells its owner."""
    if ok:
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.failing_since.is_not(None))
            .values(failing_since=None)
        )
        return
    since = (
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id)
            .values(failing_since=func.coalesce(Webhook.failing_since, now))
            .returning(Webhook.failing_since)
        )
    ).scalar_one_or_none()
    if since is None or now - since < timedelta(seconds=settings.webhook_disable_after_s):
        return
    hook = (
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.enabled.is_(True))
            .values(
                enabled=False,
                disabled_reason=f"every delivery failed since {since.isoformat()}",
                updated_at=now,
            )
            .returning(Webhook.owner_id, Webhook.url)
        )
    ).first()
    if hook is None:
        return
    metrics.WEBHOOKS_DISABLED.inc()
    log.warning("webhook %s disabled: failing since %s", webhook_id, since.isoformat())
    await session.execute(
        insert(Notification).values(
            id=uuid.uuid4(),
            user_id=hook.owner_id,
            kind="webhook.disabled",
            title="Webhook disabled",
            body=(
                f"Your webhook {hook.url} was disabled: every delivery failed since "
                f"{since.isoformat()}. Fix the receiver, then re-enable it with "
                f'PATCH /api/v1/webhooks/{webhook_id} {{"enabled": true}}.'
            ),
            data={"webhook_id": str(webhook_id)},
        )
    )
