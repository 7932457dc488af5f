"""Claiming deliveries: which endpoints have work due, and the leases that claim it.

A claim is a lease (``FOR UPDATE SKIP LOCKED``, ``next_attempt_at`` pushed to the lease
end): a sender killed mid-send leaves the row to be claimed again after the lease, with
the same ``webhook-id``. Each claim returns the delivery and, for a webhook, where and
how to sign it (:class:`Claimed`).
"""

# Statements are assembled from module constants only (never input): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

#: The outbox endpoint of every email (webhooks are their subscription's id).
EMAIL_ENDPOINT = "smtp"

DUE_ENDPOINTS = text(
    """
    SELECT DISTINCT coalesce(webhook_id::text, 'smtp') AS endpoint
    FROM notifications.deliveries
    WHERE status IN ('pending', 'delivering') AND next_attempt_at <= now()
    LIMIT 1000
    """
)

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

_LEASE = """
    UPDATE notifications.deliveries AS d
    SET status = 'delivering', attempts = d.attempts + 1,
        lease_until = now() + make_interval(secs => :lease_s),
        next_attempt_at = now() + make_interval(secs => :lease_s)
    WHERE d.id IN (
"""

#: Up to ``slots`` due deliveries of one endpoint, oldest due first.
CLAIM = text(
    _LEASE
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
CLAIM_EVENT = text(
    _LEASE
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
