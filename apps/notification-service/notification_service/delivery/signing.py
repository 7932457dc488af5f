"""Standard Webhooks signatures, made by the ``standardwebhooks`` library itself.

Receivers verify with the same library (or svix); signing with it rules out any drift
between how we sign and how they check. During a secret rotation's grace period every
delivery carries two signatures, one per secret, so receivers on either secret verify.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def message_id(delivery_id: str) -> str:
    """The ``webhook-id``: the delivery's id, so it stays the same on every retry."""
    return f"msg_{delivery_id}"


def signed_headers(
    signing_secrets: Iterable[str], msg_id: str, body: str, now: datetime | None = None
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` for one attempt."""
    timestamp = (now or datetime.now(UTC)).replace(microsecond=0)
    signatures = [Webhook(secret).sign(msg_id, timestamp, body) for secret in signing_secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }
