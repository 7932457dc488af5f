"""The feed -> SNS relay against SNS and SQS served by moto in server mode: 1,000 events,
the relay process SIGKILLed three times, every event id published, once per event id
after deduplication by id (an SQS queue subscribed to the topic reads what was published)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from notification_service.config import Settings
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import ServiceProcess, wait_until

from .conftest import AWS_ENV, REGION, Platform
from .test_end_to_end import person

EVENTS = 1000
BATCH = 100
KILL_AFTER_BATCHES = (2, 5, 8)
#: Feed page size of the relay: a kill republishes at most the page in flight.
PAGE = 10


class Subscriber:
    """An SQS queue subscribed to the topic; keeps every message it has drained."""

    def __init__(self, moto_url: str, topic_arn: str) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_url)
        self.url = self.sqs.create_queue(QueueName=f"relay-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        sns = boto3.client("sns", region_name=REGION, endpoint_url=moto_url)
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
        self.messages: list[dict[str, Any]] = []

    def drain(self) -> int:
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            batch = answer.get("Messages", [])
            if not batch:
                return len(self.messages)
            for message in batch:
                self.messages.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def test_relay_publishes_every_event_across_sigkills(
    platform: Platform, postgres_server: PostgresServer, moto_url: str
) -> None:
    topic_arn = boto3.client("sns", region_name=REGION, endpoint_url=moto_url).create_topic(
        Name=f"task-events-{uuid.uuid4().hex[:8]}"
    )["TopicArn"]
    subscriber = Subscriber(moto_url, topic_arn)
    env = platform.notification_env(
        postgres_server.create_database("notification_relay"),
        TASKPLANE_SNS_RELAY_ENABLED="true",
        TASKPLANE_SNS_TOPIC_ARN=topic_arn,
        TASKPLANE_SNS_ENDPOINT_URL=moto_url,
        TASKPLANE_SNS_REGION=REGION,
        # small pages: a kill more likely lands between a publish and its cursor commit
        TASKPLANE_FEED_PAGE_SIZE=str(PAGE),
        **AWS_ENV,
    )
    relay = ServiceProcess("notification_service", env).start()
    _, _, headers = person(platform, task_created={"webhook": False, "in_app": False})
    queue = f"relay-{uuid.uuid4().hex[:8]}"
    enqueued: set[str] = set()
    kills = 0
    try:
        for batch in range(EVENTS // BATCH):
            before = subscriber.drain()
            enqueued |= platform.enqueue(queue, headers, batch * BATCH, BATCH)
            if batch in KILL_AFTER_BATCHES:
                # the relay is publishing this batch (at least its first page) when killed
                wait_until(lambda b=before: subscriber.drain() > b, what="published events")
                assert relay.process is not None
                relay.process.kill()  # SIGKILL: no chance to finish anything
                relay.process.wait(timeout=30)
                kills += 1
                relay = ServiceProcess("notification_service", env).start()

        def published_tasks() -> set[str]:
            subscriber.drain()
            return {event["task_id"] for event in ours(subscriber.messages, queue)}

        wait_until(lambda: published_tasks() >= enqueued, timeout_s=180, what="every event")
    finally:
        relay.stop()

    events = ours(subscriber.messages, queue)
    per_id = Counter(event["id"] for event in events)
    attributes = {m["MessageAttributes"]["event_id"]["Value"] for m in subscriber.messages}
    print(
        f"\nrelay test: {kills} SIGKILLs, {len(events)} messages, {len(per_id)} event ids, "
        f"{len(events) - len(per_id)} republished"
    )
    assert kills == 3
    assert {event["task_id"] for event in events} == enqueued
    assert len(per_id) == EVENTS, "once per event id after deduplication by id"
    assert len(events) - len(per_id) <= kills * PAGE, "only the pages in flight again"
    assert {str(event_id) for event_id in per_id} <= attributes, "event_id attribute is set"


def ours(messages: list[dict[str, Any]], queue: str) -> list[dict[str, Any]]:
    """The feed items of this test's queue (the feed also holds other tests' events)."""
    events = [json.loads(m["Message"]) for m in messages]
    return [e for e in events if e.get("queue") == queue and e["type"] == "task.created"]


def test_relay_without_a_topic_is_refused() -> None:
    with pytest.raises(ValidationError, match="TASKPLANE_SNS_TOPIC_ARN"):
        Settings(sns_relay_enabled=True)
    assert not Settings().sns_relay_enabled, "off by default"
