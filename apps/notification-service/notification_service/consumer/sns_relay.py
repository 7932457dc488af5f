"""The feed -> SNS relay: every task event, published to an SNS topic, at least once.

Like the feed consumer it reads pages after its own persisted cursor (consumer name
``sns-relay``) and moves the cursor only after SNS accepted every event of the page. A
crash in between publishes the page again: at-least-once. The topic is a standard topic
(SNS can invoke Lambda only from those), so deduplication is the subscriber's: every
message carries the event id as its ``event_id`` attribute, and the Lambda handler and the
feed consumer are idempotent on it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import boto3
from sqlalchemy import update

from notification_service.config import Settings
from notification_service.consumer.feed import keep_stepping, read_page, stored_cursor
from notification_service.models import ConsumerState
from taskplane_client import AsyncTaskplaneClient
from taskplane_common.db import Database

log = logging.getLogger(__name__)

RELAY = "sns-relay"
#: SNS PublishBatch takes at most ten entries.
BATCH = 10


def sns_message(item: dict[str, Any]) -> dict[str, Any]:
    """One PublishBatch entry: the feed item as the body, its id and type as attributes."""
    return {
        "Id": str(item["id"]),
        "Message": json.dumps(item, separators=(",", ":")),
        "MessageAttributes": {
            "event_id": {"DataType": "String", "StringValue": str(item["id"])},
            "event_type": {"DataType": "String", "StringValue": str(item["type"])},
        },
    }


class SnsRelay:
    def __init__(self, settings: Settings, database: Database, feed: AsyncTaskplaneClient) -> None:
        self.settings = settings
        self.database = database
        self.feed = feed
        self.sns = boto3.client(
            "sns", region_name=settings.sns_region, endpoint_url=settings.sns_endpoint_url
        )

    async def run(self) -> None:
        await keep_stepping(self.step, "sns relay", self.settings.feed_retry_s)

    async def step(self) -> int:
        """Publish one page after the stored cursor, then move the cursor past it."""
        cursor = await stored_cursor(self.database, RELAY)
        events = await read_page(self.feed, self.settings, cursor)
        items = [event.model_dump(mode="json") for event in events]
        if not items:
            return 0
        await asyncio.to_thread(self._publish, items)
        async with self.database.session() as session:
            await session.execute(
                update(ConsumerState)
                .where(ConsumerState.name == RELAY, ConsumerState.cursor == cursor)
                .values(cursor=str(items[-1]["cursor"]), updated_at=datetime.now(UTC))
            )
        return len(items)

    def _publish(self, items: list[dict[str, Any]]) -> None:
        """PublishBatch in tens; any entry SNS refused fails the page (it is re-read)."""
        topic = self.settings.sns_topic_arn
        for start in range(0, len(items), BATCH):
            entries = [sns_message(item) for item in items[start : start + BATCH]]
            answer = self.sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
            if answer.get("Failed"):
                raise RuntimeError(
                    f"SNS refused {len(answer['Failed'])} events: {answer['Failed'][0]}"
                )
