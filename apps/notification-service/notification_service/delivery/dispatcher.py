"""The outbox dispatcher: claims due deliveries and sends them, never one slow receiver
at the expense of the others.

* Claims are per endpoint (one webhook subscription, or the SMTP server) and only up to
  that endpoint's free slots (``TASKPLANE_WEBHOOK_CONCURRENCY_PER_ENDPOINT``), so a
  receiver that never answers holds at most that many deliveries and the rest go on.
* A claim is a lease (``claims``): a process killed mid-send leaves the row to be claimed
  again after the lease, with the same ``webhook-id``: at-least-once, the receiver dedupes.
* Each attempt goes out through its channel (``webhook``, signed by ``signing``, or
  ``smtp``) and its outcome is recorded (``outcome``: backoff, failure, the
  subscription's health).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

import httpx
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import select

from notification_service.config import Settings
from notification_service.content import Email
from notification_service.delivery import outcome
from notification_service.delivery.claims import (
    CLAIM,
    CLAIM_EVENT,
    DUE_ENDPOINTS,
    EMAIL_ENDPOINT,
    Claimed,
)
from notification_service.delivery.outcome import AttemptResult
from notification_service.delivery.signing import message_id, signed_headers
from notification_service.delivery.smtp import send_email
from notification_service.delivery.webhook import post_webhook, webhook_client
from notification_service.keys import KeyUnavailableError, SecretBox
from notification_service.models import Delivery
from taskplane_common.db import Database

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


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
                        async with asyncio.timeout(self.settings.dispatch_poll_interval_s):
                            await self.wake.wait()
                    self.wake.clear()
        finally:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.client.aclose()

    async def claim(self) -> int:
        """Claim what free slots allow, endpoint by endpoint; start a task per delivery."""
        async with self.database.session() as session:
            endpoints = [row.endpoint for row in await session.execute(DUE_ENDPOINTS)]
        claimed = 0
        for endpoint in endpoints:
            if endpoint == EMAIL_ENDPOINT and not self.settings.smtp_host:
                continue
            slots = self._slots(endpoint)
            if slots == 0:
                continue
            async with self.database.session() as session:
                rows = await session.execute(
                    CLAIM,
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
                CLAIM_EVENT, {"event_id": event_id, "lease_s": self.settings.delivery_lease_s}
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
                await outcome.record(session, delivery, result, started, duration_ms, self.settings)

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
            if delivery.webhook_id is None or delivery.kek_id is None or delivery.data_key is None:
                raise KeyUnavailableError("the subscription has no data key")
            secrets = await self.box.open_all(
                delivery.kek_id, delivery.data_key, delivery.webhook_id, delivery.sealed_secrets
            )
        except KeyUnavailableError as exc:  # a KEK removed too early: retried, not lost
            log.error("webhook %s: signing secret unavailable: %s", delivery.webhook_id, exc)
            return AttemptResult(False, error="signing secret unavailable")
        headers = signed_headers(secrets, message_id(delivery.id.hex), delivery.payload)
        return await post_webhook(
            self.client, delivery.url, delivery.payload, headers, self.settings
        )
