"""AWS Lambda entry of the serverless delivery path: SNS events in, the service's own
routing and channels out.

Each SNS record's ``Message`` is a feed item as the relay publishes it
(``consumer.sns_relay``). The handler records what the events cause exactly as the feed
consumer does (``consumer.routing``: recipients and preferences from the user-service;
``consumer.outbox``: in-app notifications and outbox rows unique per event id), without a
feed cursor, then attempts the open deliveries of those events once
(``Dispatcher.deliver_event``: the same webhook signing, SSRF guard and SMTP code, the
same delivery log).

* Idempotent on the event id: a redelivered event finds its rows stored and its
  deliveries succeeded, and sends nothing.
* A delivery that is not ``succeeded`` after this attempt raises
  :class:`DeliveryFailedError`: Lambda retries the asynchronous invocation (each retry
  is one more attempt of that delivery, with the same ``webhook-id``) and, after its
  retry budget, hands the event to the dead-letter queue or on-failure destination.
* Configuration: the service's ``Settings`` (``TASKPLANE_*`` and ``DATABASE_URL``). The
  secrets come from AWS Secrets Manager, read once per execution environment before the
  settings (``load_secrets``): ``DATABASE_URL`` from the RDS-managed master user secret
  and ``TASKPLANE_LAMBDA_DATABASE_HOST``/``_PORT``/``_NAME``, the KEK from its own
  secret, and every ``TASKPLANE_*`` key of the JSON settings secret (service token,
  SMTP password).
* Each invocation runs its coroutine with :func:`asyncio.run` and opens and closes its
  own database engine and HTTP clients: nothing bound to an event loop outlives the
  invocation, at the price of new connections per invocation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from typing import Any
from urllib.parse import quote

import boto3
from aws_lambda_powertools.utilities.data_classes import SNSEvent

from notification_service.config import Settings, get_settings
from notification_service.consumer import outbox, routing
from notification_service.delivery.dispatcher import Dispatcher
from notification_service.keys import SecretBox, build_kek
from notification_service.recipients import Recipients
from taskplane_client.models import Event
from taskplane_common.db import Database

log = logging.getLogger(__name__)


SETTING_NAME = re.compile(r"^TASKPLANE_[A-Z0-9_]+$")
_loaded = False


def load_secrets(environ: dict[str, str] | None = None, client: Any = None) -> None:
    """Put the secrets Terraform points at into the environment, once per execution
    environment (Lambda reuses it across invocations): ``DATABASE_URL`` from
    ``TASKPLANE_LAMBDA_DATABASE_SECRET_ARN`` (JSON username and password, as RDS manages
    it), ``TASKPLANE_SECRETS_KEK`` from ``TASKPLANE_LAMBDA_KEK_SECRET_ARN`` (the KEK the
    in-cluster service uses) and every ``TASKPLANE_*`` key of
    ``TASKPLANE_LAMBDA_SETTINGS_SECRET_ARN``."""
    env = os.environ if environ is None else environ
    database_arn = env.get("TASKPLANE_LAMBDA_DATABASE_SECRET_ARN")
    kek_arn = env.get("TASKPLANE_LAMBDA_KEK_SECRET_ARN")
    settings_arn = env.get("TASKPLANE_LAMBDA_SETTINGS_SECRET_ARN")
    if not (database_arn or kek_arn or settings_arn):
        return
    secrets = client or boto3.client("secretsmanager")
    if kek_arn:
        env["TASKPLANE_SECRETS_KEK"] = secrets.get_secret_value(SecretId=kek_arn)["SecretString"]
    if database_arn:
        login = json.loads(secrets.get_secret_value(SecretId=database_arn)["SecretString"])
        user, password = (quote(login[key], safe="") for key in ("username", "password"))
        host = env["TASKPLANE_LAMBDA_DATABASE_HOST"]
        port = env.get("TASKPLANE_LAMBDA_DATABASE_PORT", "5432")
        name = env["TASKPLANE_LAMBDA_DATABASE_NAME"]
        env["DATABASE_URL"] = f"postgresql://{user}:{password}@{host}:{port}/{name}?sslmode=require"
    if settings_arn:
        values = json.loads(secrets.get_secret_value(SecretId=settings_arn)["SecretString"] or "{}")
        for name, value in values.items():
            if not SETTING_NAME.match(name) or name.startswith("TASKPLANE_LAMBDA_"):
                raise ValueError(f"{settings_arn}: {name!r} is not a TASKPLANE_* setting")
            env[name] = str(value)


class DeliveryFailedError(RuntimeError):
    """Some delivery of the invocation's events is not done: Lambda should retry."""


def feed_events(event: dict[str, Any]) -> list[Event]:
    """The feed items carried by an SNS event, in record order."""
    return [Event.model_validate_json(record.sns.message) for record in SNSEvent(event).records]


async def deliver(settings: Settings, events: list[Event]) -> dict[str, Any]:
    """Record and deliver ``events``; raise if any of their deliveries is not done."""
    database = Database(settings)
    recipients = Recipients(settings, settings.peer_auth())
    dispatcher = Dispatcher(settings, database, asyncio.Event(), SecretBox(build_kek(settings)))
    try:
        plans = await routing.plan(database, recipients, events)
        async with database.session() as session:
            await outbox.store(session, settings, plans)
        statuses: dict[str, str] = {}
        for feed_event in events:
            statuses.update(await dispatcher.deliver_event(feed_event.id))
    finally:
        await dispatcher.client.aclose()
        await recipients.aclose()
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
    global _loaded
    if not _loaded:
        load_secrets()
        _loaded = True
    events = feed_events(event)
    log.info("delivering events %s", [e.id for e in events])
    return asyncio.run(deliver(get_settings(), events))
