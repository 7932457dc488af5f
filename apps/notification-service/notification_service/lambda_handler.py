"""AWS Lambda entry of the serverless delivery path: SNS events in, the service's own
routing and channels out.

Each SNS record's ``Message`` is a feed item as the relay publishes it (``sns_relay``).
The handler records what the events cause exactly as the feed consumer does
(``FeedConsumer.record``: recipients and preferences from the user-service, in-app
notifications and outbox rows unique per event id), then attempts the open deliveries of
those events once (``Dispatcher.deliver_event``: the same webhook signing, SSRF guard and
SMTP code, the same delivery log).

* Idempotent on the event id: a redelivered event finds its rows stored and its
  deliveries succeeded, and sends nothing.
* A delivery that is not ``succeeded`` after this attempt raises
  :class:`DeliveryFailedError`: Lambda retries the asynchronous invocation (each retry
  is one more attempt of that delivery, with the same ``webhook-id``) and, after its
  retry budget, hands the event to the dead-letter queue or on-failure destination.
* Configuration: the service's ``Settings`` (``TASKPLANE_*`` and ``DATABASE_URL``).
* Each invocation runs its coroutine with :func:`asyncio.run` and opens and closes its
  own database engine and HTTP clients: nothing bound to an event loop outlives the
  invocation, at the price of new connections per invocation.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent

from notification_service.config import Settings, get_settings
from notification_service.consumer import FeedConsumer
from notification_service.content import FeedEvent
from notification_service.dispatcher import Dispatcher
from notification_service.keys import SecretBox, build_kek
from notification_service.peers import Peers
from taskplane_common.db import Database

log = logging.getLogger(__name__)


class DeliveryFailedError(RuntimeError):
    """Some delivery of the invocation's events is not done: Lambda should retry."""


def feed_events(event: dict[str, Any]) -> list[FeedEvent]:
    """The feed items carried by an SNS event, in record order."""
    return [
        FeedEvent.from_feed(json.loads(record.sns.message)) for record in SNSEvent(event).records
    ]


async def deliver(settings: Settings, events: list[FeedEvent]) -> dict[str, Any]:
    """Record and deliver ``events``; raise if any of their deliveries is not done."""
    database = Database(settings)
    peers = Peers(settings)
    dispatcher = Dispatcher(settings, database, asyncio.Event(), SecretBox(build_kek(settings)))
    consumer = FeedConsumer(settings, database, peers, dispatcher.wake)
    try:
        await consumer.record(events)
        statuses: dict[str, str] = {}
        for feed_event in events:
            statuses.update(await dispatcher.deliver_event(feed_event.id))
    finally:
        await dispatcher.client.aclose()
        await peers.aclose()
        await database.dispose()
    undone = {delivery: status for delivery, status in statuses.items() if status != "succeeded"}
    if undone:
        raise DeliveryFailedError(
            f"{len(undone)} of {len(statuses)} deliveries of events "
            f"{[e.id for e in events]} not done: {undone}"
        )
    return {"events": [e.id for e in events], "deliveries": len(statuses)}


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """``notification_service.lambda_handler.handler``: the function's configured entry."""
    events = feed_events(event)
    log.info("delivering events %s", [e.id for e in events])
    return asyncio.run(deliver(get_settings(), events))
