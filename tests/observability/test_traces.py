"""One task's trace across the real processes: task-service (the enqueue and the lease's
completion, with their SQL statements), the worker's handler span and the
notification-service's webhook delivery (with the SQL spans of its own and of the
user-service it reads the recipient from) all reach an OTLP receiver under one trace id,
the one the producer started; the enqueue's latency bucket carries that trace id as an
exemplar. The processes log at DEBUG, and every line they wrote inside a request or a
traced task names a span the receiver got, the producer's trace among them."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from taskplane_testing.logs import assert_lines_follow_the_spans, is_request_line
from taskplane_testing.otlp import OtlpReceiver, ReceivedSpan
from taskplane_testing.platform import Platform, running_platform
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import wait_until
from taskplane_testing.traffic import (
    WebhookReceiver,
    Worker,
    assert_no_secret_logged,
    notification_service,
    profile_service,
    status_of,
    subscribe,
)

QUEUE = "traced"
#: The lease's end: the worker's report carries the task's trace (the lease itself is made
#: before the worker knows which task it gets, so it starts no trace of a task). On the
#: streaming lease (the worker's default) the report is a message, spanned by its queue.
LEASE_COMPLETE = f"complete {QUEUE}"
#: Every process started below exports to the receiver, in batches of at most 0.2 s, and
#: logs at DEBUG (each request then writes a line inside its span).
_OTEL_ENV = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_BSP_SCHEDULE_DELAY", "TASKPLANE_LOG_LEVEL")


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    saved = {name: os.environ.get(name) for name in _OTEL_ENV}
    os.environ.update(dict(zip(_OTEL_ENV, (receiver.url, "200", "DEBUG"), strict=True)))
    try:
        yield receiver
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        receiver.close()


@pytest.fixture(scope="module")
def platform(otlp: OtlpReceiver, postgres_server: PostgresServer) -> Iterator[Platform]:
    """Auth- and task-service started while the OTLP endpoint is in the environment,
    logging at DEBUG like every process of this module."""
    with running_platform(postgres_server, "observability_traces", log_level="DEBUG") as running:
        yield running


def enqueue_traced(tasks_url: str, admin: dict[str, str], trace_id: str) -> str:
    """urllib, not httpx: httpx instrumentation (when on in this process) would replace
    the producer's traceparent with its own."""
    request = urllib.request.Request(
        f"{tasks_url}/api/v1/queues/{QUEUE}/tasks",
        data=json.dumps({"payload": {"n": 1}}).encode(),
        headers={
            **admin,
            "content-type": "application/json",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return f"{tasks_url}{response.headers['location']}"


def by_service(spans: list[ReceivedSpan]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for span in spans:
        found.setdefault(span.service, set()).add(span.name)
    return found


def test_one_trace_covers_enqueue_lease_handler_and_delivery(
    platform: Platform, postgres_server: PostgresServer, otlp: OtlpReceiver
) -> None:
    admin_token = platform.admin_token()
    admin = {"Authorization": f"Bearer {admin_token}"}
    worker_token = platform.service_token("traces-worker", "queues:work")
    feed_token = platform.service_token("traces-notifier", "events:read", "users:read")
    profiles = profile_service(postgres_server, platform, "traces_profiles")
    receiver = WebhookReceiver()
    with profiles, contextlib.closing(receiver):
        notifier = notification_service(
            postgres_server,
            platform,
            "traces_notifications",
            task_service_url=platform.tasks.url,
            user_service_url=profiles.url,
            token=feed_token,
        )
        with notifier:
            profile = httpx.get(f"{profiles.url}/api/v1/users/me", headers=admin, timeout=30)
            assert profile.status_code == 200, profile.text
            subscribe(notifier.url, admin, f"{receiver.url}/ok")
            worker = Worker.start(
                QUEUE,
                "builtin:echo",
                {
                    "TASKPLANE_API_URL": platform.tasks.url,
                    "TASKPLANE_AUTH_URL": platform.auth.url,
                    "TASKPLANE_TOKEN": worker_token,
                    "OTEL_SERVICE_NAME": "taskplane-worker",
                },
            )
            try:
                trace_id = uuid.uuid4().hex
                task_url = enqueue_traced(platform.tasks.url, admin, trace_id)
                wait_until(lambda: status_of(task_url, admin) == "completed", "completed")
                wait_until(lambda: receiver.paths.count("/ok") == 1, "the webhook delivery")

                def covered() -> bool:
                    services = by_service(otlp.trace(trace_id))
                    return {"task-service", "taskplane-worker", "notification-service"} <= set(
                        services
                    ) and LEASE_COMPLETE in services["task-service"]

                wait_until(covered, "spans of every process in the trace")
            finally:
                worker.stop()
    spans = otlp.trace(trace_id)
    services = by_service(spans)
    assert "POST /api/v1/queues/{queue}/tasks" in services["task-service"], services
    assert f"{QUEUE} process" in services["taskplane-worker"], services
    assert "notification.deliver webhook" in services["notification-service"], services
    statements = {s.service for s in spans if "db.system" in s.attributes}
    assert {"task-service", "notification-service", "user-service"} <= statements, services
    task_sql = [
        str(s.attributes.get("db.statement"))
        for s in spans
        if s.service == "task-service" and "db.system" in s.attributes
    ]
    assert any("INSERT" in statement for statement in task_sql), task_sql
    assert enqueue_exemplars(platform.tasks.url) == {trace_id}
    logs = {
        "auth-service": platform.auth.log,
        "task-service": platform.tasks.log,
        "user-service": profiles.log,
        "notification-service": notifier.log,
        "worker": worker.log,
    }
    assert_no_secret_logged(
        logs,
        {"admin token": admin_token, "worker token": worker_token, "feed token": feed_token},
    )
    lines = assert_lines_follow_the_spans(logs, otlp)
    producer = [
        line["message"]
        for line in lines["task-service"]
        if is_request_line(line) and line["trace_id"] == trace_id
    ]
    assert f"request POST /api/v1/queues/{QUEUE}/tasks" in producer, producer


def enqueue_exemplars(tasks_url: str) -> set[str]:
    """Trace ids the enqueue route's latency buckets carry, scraped as OpenMetrics."""
    response = httpx.get(
        f"{tasks_url}/metrics", headers={"Accept": "application/openmetrics-text"}, timeout=30
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    return {
        sample.exemplar.labels["trace_id"]
        for family in text_string_to_metric_families(response.text)  # type: ignore[no-untyped-call]
        if family.name == "http_request_duration_seconds"
        for sample in family.samples
        if sample.exemplar is not None
        and sample.labels.get("route") == "/api/v1/queues/{queue}/tasks"
        and sample.labels.get("method") == "POST"
    }
