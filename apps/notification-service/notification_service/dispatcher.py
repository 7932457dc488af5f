"""The outbox dispatcher: claims due deliveries and sends them, never one slow receiver
at the expense of the others.

* Claims are per endpoint (one webhook subscription, or the SMTP server) and only up to
  that endpoint's free slots (``TASKPLANE_WEBHOOK_CONCURRENCY_PER_ENDPOINT``), so a
  receiver that never answers holds at most that many deliveries and the rest go on.
* A claim is a lease (``FOR UPDATE SKIP LOCKED``, ``next_attempt_at`` pushed to the lease
  end): a process killed mid-send leaves the row to be claimed again after the lease,
  with the same ``webhook-id``: at-least-once, the receiver dedupes.
* Failures back off exponentially with jitter up to ``max_attempts``, then the delivery
  is ``failed``; a subscription failing for longer than
  ``TASKPLANE_WEBHOOK_DISABLE_AFTER_S`` is disabled and its owner notified in-app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import metrics
from notification_service.config import Settings
from notification_service.keys import KeyUnavailableError, SecretBox
from notification_service.models import Delivery, DeliveryAttempt, Notification, Webhook
from notification_service.senders import (
    AttemptResult,
    Email,
    post_webhook,
    send_email,
    webhook_client,
)
from notification_service.signing import message_id, signed_headers
from taskplane_common.db import Database

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

EMAIL_ENDPOINT = "smtp"

_DUE_ENDPOINTS = text(
    """
    SELECT DISTINCT coalesce(webhook_id::text, 'smtp') AS endpoint
    FROM notifications.deliveries
    WHERE status IN ('pending', 'delivering') AND next_attempt_at <= now()
    LIMIT 1000
    """
)

#: What a claim returns: the delivery and, for a webhook, where and how to sign it.
_CLAIMED_COLUMNS = """
    RETURNING d.id, d.channel, d.webhook_id, d.payload, d.attempts, d.max_attempts,
              d.event_occurred_at, d.traceparent,
              (SELECT w.url FROM notifications.webhooks AS w
               WHERE w.id = d.webhook_id AND w.enabled) AS url,
              (SELECT w.kek_id FROM notifications.webhooks AS w
               WHERE w.id = d.webhook_id) AS kek_id,
              (SELECT w.data_key FROM notifications.webhooks AS w
               WHERE w.id = d.webhook_id) AS data_key,
              (SELECT array_remove(ARRAY[w.secret_sealed,
                                         CASE WHEN w.previous_secret_expires_at > now()
                                              THEN w.previous_secret_sealed END], NULL)
               FROM notifications.webhooks AS w WHERE w.id = d.webhook_id) AS sealed_secrets
"""

#: Claiming leases rows: a sender that dies leaves them to be claimed after the lease.
_LEASE = """
    UPDATE notifications.deliveries AS d
    SET status = 'delivering', attempts = d.attempts + 1,
        lease_until = now() + make_interval(secs => :lease_s),
        next_attempt_at = now() + make_interval(secs => :lease_s)
    WHERE d.id IN (
"""

_CLAIM = text(
    _LEASE  # noqa: S608 - module constants only, every value is a bound parameter
    + """
        SELECT id FROM notifications.deliveries
        WHERE status IN ('pending', 'delivering') AND next_attempt_at <= now()
          AND coalesce(webhook_id::text, 'smtp') = :endpoint
        ORDER BY next_attempt_at
        LIMIT :slots
        FOR UPDATE SKIP LOCKED
    )
"""
    + _CLAIMED_COLUMNS
)

#: Every open delivery of one event, due or not (the Lambda handler paces retries by
#: Lambda's own retries), except one another sender holds under an unexpired lease.
_CLAIM_EVENT = text(
    _LEASE  # noqa: S608 - module constants only, every value is a bound parameter
    + """
        SELECT id FROM notifications.deliveries
        WHERE event_id = :event_id
          AND (status = 'pending' OR (status = 'delivering' AND next_attempt_at <= now()))
        FOR UPDATE SKIP LOCKED
    )
    """
    + _CLAIMED_COLUMNS
)


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    channel: str
    webhook_id: uuid.UUID | None
    payload: str
    attempts: int
    max_attempts: int
    event_occurred_at: datetime
    traceparent: str | None
    #: The subscription's URL (None once it is disabled) and its signing secrets,
    #: sealed under its data key (wrapped by the KEK ``kek_id``).
    url: str | None
    kek_id: str | None
    data_key: bytes | None
    sealed_secrets: list[bytes] | None

    @property
    def endpoint(self) -> str:
        return str(self.webhook_id) if self.webhook_id else EMAIL_ENDPOINT


def backoff_s(settings: Settings, attempt: int) -> float:
    """Exponential in the attempt number, capped, with "equal jitter" (half fixed, half
    random) so retries of many deliveries spread out instead of arriving together."""
    ceiling = min(
        settings.delivery_backoff_max_s, settings.delivery_backoff_base_s * 2.0 ** (attempt - 1)
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not security


class Dispatcher:
    def __init__(
        self, settings: Settings, database: Database, wake: asyncio.Event, box: SecretBox
    ) -> None:
        self.settings = settings
        self.database = database
        self.wake = wake
        self.box = box
        self.in_flight: dict[str, int] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.client: httpx.AsyncClient = webhook_client(settings)

    def _slots(self, endpoint: str) -> int:
        limit = (
            self.settings.email_concurrency
            if endpoint == EMAIL_ENDPOINT
            else self.settings.webhook_concurrency_per_endpoint
        )
        total_free = self.settings.max_concurrency - len(self.tasks)
        return max(0, min(limit - self.in_flight.get(endpoint, 0), total_free))

    async def run(self) -> None:
        try:
            while True:
                try:
                    claimed = await self.claim()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("claiming deliveries failed: %s", type(exc).__name__)
                    claimed = 0
                if claimed == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self.wake.wait(), self.settings.dispatch_poll_interval_s
                        )
                    self.wake.clear()
        finally:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.client.aclose()

    async def claim(self) -> int:
        """Claim what free slots allow, endpoint by endpoint; start a task per delivery."""
        async with self.database.session() as session:
            endpoints = [row.endpoint for row in await session.execute(_DUE_ENDPOINTS)]
        claimed = 0
        for endpoint in endpoints:
            if endpoint == EMAIL_ENDPOINT and not self.settings.smtp_host:
                continue
            slots = self._slots(endpoint)
            if slots == 0:
                continue
            async with self.database.session() as session:
                rows = await session.execute(
                    _CLAIM,
                    {
                        "endpoint": endpoint,
                        "slots": slots,
                        "lease_s": self.settings.delivery_lease_s,
                    },
                )
                batch = [Claimed(**row._mapping) for row in rows]
            for delivery in batch:
                self.in_flight[endpoint] = self.in_flight.get(endpoint, 0) + 1
                task = asyncio.create_task(self._deliver(delivery))
                self.tasks.add(task)
            claimed += len(batch)
        return claimed

    async def deliver_event(self, event_id: int) -> dict[str, str]:
        """Attempt every open delivery of one event once, now, and return the status of
        each of its deliveries by id (the Lambda handler's path: no slots, no backoff
        wait; a second call after success finds nothing open and sends nothing)."""
        async with self.database.session() as session:
            rows = await session.execute(
                _CLAIM_EVENT, {"event_id": event_id, "lease_s": self.settings.delivery_lease_s}
            )
            batch = [Claimed(**row._mapping) for row in rows]
        await asyncio.gather(*(self._send(delivery) for delivery in batch))
        async with self.database.session() as session:
            statuses = await session.execute(
                select(Delivery.id, Delivery.status).where(Delivery.event_id == event_id)
            )
            return {str(row.id): row.status for row in statuses}

    async def _send(self, delivery: Claimed) -> None:
        """One attempt of a claimed delivery, recorded in the delivery log."""
        carrier = {"traceparent": delivery.traceparent} if delivery.traceparent else {}
        with tracer.start_as_current_span(
            f"notification.deliver {delivery.channel}",
            context=TraceContextTextMapPropagator().extract(carrier),
            attributes={"taskplane.delivery.id": str(delivery.id)},
        ):
            started = datetime.now(UTC)
            clock = time.perf_counter()
            result = await self._attempt(delivery)
            duration_ms = int((time.perf_counter() - clock) * 1000)
            async with self.database.session() as session:
                await self._finish(session, delivery, result, started, duration_ms)

    async def _deliver(self, delivery: Claimed) -> None:
        try:
            await self._send(delivery)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery %s could not be recorded; its lease will expire", delivery.id)
        finally:
            self.in_flight[delivery.endpoint] -= 1
            self.tasks.discard(asyncio.current_task())
            self.wake.set()

    async def _attempt(self, delivery: Claimed) -> AttemptResult:
        if delivery.channel == "email":
            return await send_email(self.settings, Email.from_json(delivery.payload))
        if delivery.url is None or not delivery.sealed_secrets:
            return AttemptResult(False, error="the subscription is disabled", permanent=True)
        try:
            signing_secrets = await self._secrets(delivery)
        except KeyUnavailableError as exc:  # a KEK removed too early: retried, not lost
            log.error("webhook %s: signing secret unavailable: %s", delivery.webhook_id, exc)
            return AttemptResult(False, error="signing secret unavailable")
        msg_id = message_id(delivery.id.hex)
        headers = signed_headers(signing_secrets, msg_id, delivery.payload)
        return await post_webhook(
            self.client, delivery.url, delivery.payload, headers, self.settings
        )

    async def _secrets(self, delivery: Claimed) -> list[str]:
        """The subscription's signing secrets in the clear, for this attempt only."""
        if delivery.webhook_id is None or delivery.kek_id is None or delivery.data_key is None:
            raise KeyUnavailableError("the subscription has no data key")
        data_key = await asyncio.to_thread(self.box.data_key, delivery.kek_id, delivery.data_key)
        return [
            self.box.open(data_key, delivery.webhook_id, bytes(sealed))
            for sealed in delivery.sealed_secrets or []
        ]

    async def _finish(
        self,
        session: AsyncSession,
        delivery: Claimed,
        result: AttemptResult,
        started: datetime,
        duration_ms: int,
    ) -> None:
        now = datetime.now(UTC)
        exhausted = result.permanent or delivery.attempts >= delivery.max_attempts
        next_at = (
            None
            if result.ok or exhausted
            else now + timedelta(seconds=backoff_s(self.settings, delivery.attempts))
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
            await self._track_health(session, delivery.webhook_id, ok=result.ok, now=now)

    async def _track_health(
        self, session: AsyncSession, webhook_id: uuid.UUID, *, ok: bool, now: datetime
    ) -> None:
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
        if since is None or now - since < timedelta(seconds=self.settings.webhook_disable_after_s):
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
