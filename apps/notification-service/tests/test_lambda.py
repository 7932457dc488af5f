"""The Lambda handler invoked with SNS events in the AWS-documented shape, built from real
feed items of the real task-service, published through SNS on moto in server mode and
read back from an SQS subscription (the envelope SNS sends). Preferences come from the
real user-service; webhooks go to a real HTTP receiver, emails to aiosmtpd.

moto serves the SNS and SQS APIs only: it does not run Lambda's asynchronous-invocation
retries or its dead-letter queue. The failure test plays Lambda's part explicitly: the
first invocation plus two retries, then the event sent to the SQS dead-letter queue.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import psycopg
import pytest
from standardwebhooks.webhooks import Webhook

from notification_service.config import get_settings
from notification_service.lambda_handler import DeliveryFailedError, feed_events, handler
from notification_service.sns_relay import sns_message
from taskplane_common.migrations import upgrade
from taskplane_testing.notifications import Receiver, SmtpSink
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import ServiceProcess
from taskplane_testing.tokens import bearer

from .conftest import REGION, Platform
from .test_end_to_end import ALL_ON, assert_notified_once, complete_task, person, subscribe

#: Lambda retries a failed asynchronous invocation twice by default (the module's setting).
LAMBDA_RETRIES = 2


@dataclass
class Serverless:
    """The Lambda's world: its database, the API process that manages subscriptions on
    it, its own receiver and SMTP server, and SNS/SQS on moto."""

    db_url: str
    api: ServiceProcess
    receiver: Receiver
    smtp: SmtpSink
    topic_arn: str
    subscription_queue: str
    dead_letter_queue: str
    moto_url: str

    def sqs(self) -> Any:
        return boto3.client("sqs", region_name=REGION, endpoint_url=self.moto_url)


@pytest.fixture(scope="module")
def serverless(
    platform: Platform,
    postgres_server: PostgresServer,
    moto_url: str,
    monkeypatch_module: pytest.MonkeyPatch,
) -> Iterator[Serverless]:
    """A receiver and SMTP server of its own: the session's notification-service also
    reads the feed and must not be counted as the Lambda's deliveries."""
    db_url = postgres_server.create_database("notification_lambda")
    upgrade("notification_service", db_url)
    receiver = Receiver().start()
    smtp = SmtpSink()
    smtp.controller.start()
    env = platform.notification_env(
        db_url, TASKPLANE_SMTP_PORT=str(smtp.port), TASKPLANE_BACKGROUND_ENABLED="false"
    )
    for key, value in env.items():
        monkeypatch_module.setenv(key, value)
    get_settings.cache_clear()
    sns = boto3.client("sns", region_name=REGION, endpoint_url=moto_url)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_url)
    topic_arn = sns.create_topic(Name=f"task-events-{uuid.uuid4().hex[:8]}")["TopicArn"]
    subscription_queue = sqs.create_queue(QueueName=f"sub-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=subscription_queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    dead_letter_queue = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    api = ServiceProcess("notification_service", env).start()
    try:
        yield Serverless(
            db_url, api, receiver, smtp, topic_arn, subscription_queue, dead_letter_queue, moto_url
        )
    finally:
        api.stop()
        receiver.stop()
        smtp.controller.stop()
        get_settings.cache_clear()


def feed_item(platform: Platform, task_id: str, event_type: str) -> dict[str, Any]:
    """The task's event as the task-service feed serves it (what the relay publishes)."""
    headers = bearer(platform.tokens.service_token("events:read"))
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"after": after} if after else {})}
        page = httpx.get(
            f"{platform.task.url}/api/v1/events", params=params, headers=headers, timeout=30
        )
        assert page.status_code == 200, page.text
        items: list[dict[str, Any]] = page.json()["items"]
        for item in items:
            if item["task_id"] == task_id and item["type"] == event_type:
                return item
        assert items, f"no {event_type} event of task {task_id} in the feed"
        after = page.json()["next_cursor"]


def sns_event(serverless: Serverless, item: dict[str, Any]) -> dict[str, Any]:
    """Publish ``item`` as the relay does, read what SNS sent to the subscribed queue and
    wrap it as SNS wraps a message for Lambda (one record)."""
    sns = boto3.client("sns", region_name=REGION, endpoint_url=serverless.moto_url)
    answer = sns.publish_batch(
        TopicArn=serverless.topic_arn, PublishBatchRequestEntries=[sns_message(item)]
    )
    assert not answer.get("Failed"), answer
    sqs = serverless.sqs()
    received = sqs.receive_message(
        QueueUrl=serverless.subscription_queue, MaxNumberOfMessages=1, WaitTimeSeconds=20
    )
    (message,) = received["Messages"]
    queue = serverless.subscription_queue
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    envelope = json.loads(message["Body"])
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{serverless.topic_arn}:{uuid.uuid4()}",
                "Sns": {
                    "Type": envelope["Type"],
                    "MessageId": envelope["MessageId"],
                    "TopicArn": envelope["TopicArn"],
                    "Subject": envelope.get("Subject"),
                    "Message": envelope["Message"],
                    "Timestamp": envelope["Timestamp"],
                    "SignatureVersion": envelope["SignatureVersion"],
                    "Signature": envelope["Signature"],
                    "SigningCertUrl": envelope["SigningCertURL"],
                    "UnsubscribeUrl": envelope["UnsubscribeURL"],
                    "MessageAttributes": envelope["MessageAttributes"],
                },
            }
        ]
    }


def in_app_count(serverless: Serverless, event_id: int) -> int:
    with psycopg.connect(serverless.db_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM notifications.notifications WHERE event_id = %s", (event_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_one_verified_webhook_and_one_email_per_event_even_when_redelivered(
    platform: Platform, serverless: Serverless
) -> None:
    user, email, headers = person(platform, task_completed=ALL_ON)
    path = f"/ok/lambda-{user}"
    hook = subscribe(serverless.api, headers, serverless.receiver.url(path), "task.completed")
    task_id = complete_task(platform, headers)
    item = feed_item(platform, task_id, "task.completed")
    event = sns_event(serverless, item)
    assert event["Records"][0]["Sns"]["MessageAttributes"]["event_id"]["Value"] == str(item["id"])

    first = handler(event, None)
    again = handler(event, None)  # SNS delivers at least once: the same event again

    assert first == {"events": [item["id"]], "deliveries": 2}
    assert again == first, "the same deliveries, all done"
    assert_notified_once(serverless.receiver, serverless.smtp, path, hook, email, task_id)
    assert in_app_count(serverless, item["id"]) == 1


def test_a_failing_receiver_ends_in_the_dead_letter_queue(
    platform: Platform, serverless: Serverless
) -> None:
    user, _, headers = person(platform, task_completed={"webhook": True, "in_app": False})
    path = f"/flaky/100/lambda-{user}"  # answers 500 to the first 100 attempts
    hook = subscribe(serverless.api, headers, serverless.receiver.url(path), "task.completed")
    task_id = complete_task(platform, headers)
    item = feed_item(platform, task_id, "task.completed")
    event = sns_event(serverless, item)
    sqs = serverless.sqs()

    # Lambda's asynchronous invocation: the first attempt and two retries, then the
    # dead-letter queue gets the event with the last error (moto does not do this part).
    errors: list[str] = []
    for _ in range(1 + LAMBDA_RETRIES):
        with pytest.raises(DeliveryFailedError) as failure:
            handler(event, None)
        errors.append(str(failure.value))
    sqs.send_message(
        QueueUrl=serverless.dead_letter_queue,
        MessageBody=json.dumps(event),
        MessageAttributes={"ErrorMessage": {"DataType": "String", "StringValue": errors[-1]}},
    )

    received = serverless.receiver.at(path)
    assert len(received) == 3, "one attempt per invocation"
    assert len({r.webhook_id for r in received}) == 1, "webhook-id is stable across retries"
    for request in received:
        Webhook(hook["secret"]).verify(request.body, request.headers)
    dead = sqs.receive_message(
        QueueUrl=serverless.dead_letter_queue,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=20,
        MessageAttributeNames=["All"],
    )["Messages"]
    (letter,) = dead
    assert [e.id for e in feed_events(json.loads(letter["Body"]))] == [item["id"]]
    assert "not done" in letter["MessageAttributes"]["ErrorMessage"]["StringValue"]
    with psycopg.connect(serverless.db_url) as connection:
        row = connection.execute(
            "SELECT status, attempts, last_status_code FROM notifications.deliveries "
            "WHERE event_id = %s",
            (item["id"],),
        ).fetchone()
    assert row == ("pending", 3, 500), "a redrive from the queue attempts it again"
