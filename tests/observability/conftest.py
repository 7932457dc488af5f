"""The platform as real processes with a little real traffic, for the observability tests:
auth-service and task-service (the shared test platform), a notification-service reading
the task feed, and ``taskplane-worker`` processes with their metrics ports, one completing
the tasks of a queue, one failing every task of another (until it is a dead letter); and
a user-service living through an outage: its JWKS endpoint unreachable (API requests answer
503) and then its database gone (``/readyz`` answers 503)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from taskplane_testing.operator import RunningOperator, operator_on_emulator
from taskplane_testing.platform import Platform, platform
from taskplane_testing.postgres import PostgresServer, free_port
from taskplane_testing.processes import ServiceProcess, wait_until
from taskplane_testing.traffic import (
    FAILING_QUEUE,
    FLAKY_QUEUE,
    OK_QUEUE,
    FlakyGate,
    Traffic,
    WebhookReceiver,
    Worker,
    enqueue,
    notification_service,
    profile_service,
    status_of,
    subscribe,
)

__all__ = ["platform"]  # the fixture

#: The TaskQueue the operator scales, in the namespace the dashboards are looked at in.
SCALED_NAMESPACE = "taskplane"
SCALED_TASKQUEUE = "scaled"


@pytest.fixture(scope="module")
def traffic(
    platform: Platform, postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Traffic]:
    admin_token = platform.admin_token()
    admin = {"Authorization": f"Bearer {admin_token}"}
    worker_token = platform.service_token("observability-worker", "queues:work")
    feed_token = platform.service_token("observability-notifier", "events:read", "users:read")
    operator_token = platform.service_token(
        "observability-operator", "queues:admin", "workload-bindings:write"
    )
    worker_env = {
        "TASKPLANE_API_URL": platform.tasks.url,
        "TASKPLANE_AUTH_URL": platform.auth.url,
        "TASKPLANE_TOKEN": worker_token,
    }
    profiles = profile_service(postgres_server, platform, "observability_profiles")
    receiver = WebhookReceiver()
    feed_gate = FlakyGate(platform.tasks.url, "/api/v1/events", failures=2)
    notifier = notification_service(
        postgres_server,
        platform,
        "observability_notifications",
        task_service_url=feed_gate.url,
        user_service_url=profiles.url,
        token=feed_token,
    )
    outage_db = "observability_users"
    users = ServiceProcess(
        "user_service",
        {
            "DATABASE_URL": postgres_server.create_database(outage_db),
            "TASKPLANE_ENVIRONMENT": "development",
            "TASKPLANE_JWKS_URL": f"http://127.0.0.1:{free_port()}/.well-known/jwks.json",
            "OTEL_SERVICE_NAME": "user-service",
        },
    )
    workers: list[Worker] = []
    gate = FlakyGate(platform.tasks.url, "/leases", failures=2)
    operator_run = operator_on_emulator(
        SCALED_NAMESPACE,
        tmp_path_factory.mktemp("operator"),
        api_url=platform.tasks.url,
        auth_url=platform.auth.url,
        token=operator_token,
    )
    with (
        profiles,
        notifier,
        users,
        operator_run as operator,
        contextlib.closing(gate),
        contextlib.closing(receiver),
        contextlib.closing(feed_gate),
    ):
        try:
            profile = httpx.get(f"{profiles.url}/api/v1/users/me", headers=admin, timeout=30)
            assert profile.status_code == 200, profile.text
            for path in ("/ok", "/broken"):
                subscribe(notifier.url, admin, f"{receiver.url}{path}")
            workers = [
                Worker.start(OK_QUEUE, "builtin:echo", worker_env),
                Worker.start(FAILING_QUEUE, "builtin:fail", worker_env),
                # The gate is an HTTP proxy of requests: this worker leases by requests.
                Worker.start(
                    FLAKY_QUEUE,
                    "builtin:echo",
                    {
                        **worker_env,
                        "TASKPLANE_API_URL": gate.url,
                        "TASKPLANE_WORKER_STREAM": "false",
                    },
                ),
            ]
            scale_up(operator, platform.tasks.url, admin)
            flaky = enqueue(platform.tasks.url, admin, FLAKY_QUEUE, {"payload": {}})
            done = [
                enqueue(platform.tasks.url, admin, OK_QUEUE, {"payload": {"n": n}})
                for n in range(3)
            ]
            dead = enqueue(
                platform.tasks.url, admin, FAILING_QUEUE, {"payload": {}, "max_attempts": 1}
            )
            wait_until(
                lambda: all(status_of(url, admin) == "completed" for url in [*done, flaky]),
                "completed",
            )
            wait_until(lambda: status_of(dead, admin) in {"failed", "dead"}, "dead-lettered")
            completed = len(done) + 1
            wait_until(
                lambda: (
                    receiver.paths.count("/ok") >= completed
                    and receiver.paths.count("/broken") >= 2 * completed
                ),
                "webhook deliveries, delivered and failed",
            )
            for service in (platform.auth, platform.tasks, notifier):
                assert httpx.get(f"{service.url}/readyz", timeout=30).status_code == 200
            me = httpx.get(f"{users.url}/api/v1/users/me", headers=admin, timeout=30)
            assert me.status_code == 503, me.text
            with psycopg.connect(postgres_server.url(), autocommit=True) as connection:
                connection.execute(f'DROP DATABASE "{outage_db}" WITH (FORCE)')
            wait_until(
                lambda: httpx.get(f"{users.url}/readyz", timeout=30).status_code == 503,
                "user-service not ready without its database",
            )
            yield Traffic(
                metrics_urls={
                    "auth-service": f"{platform.auth.url}/metrics",
                    "task-service": f"{platform.tasks.url}/metrics",
                    "notification-service": f"{notifier.url}/metrics",
                    "user-service": f"{users.url}/metrics",
                    "operator": operator.metrics_url,
                    **{f"worker {w.queue}": w.metrics_url for w in workers},
                },
                logs={
                    "auth-service": platform.auth.log,
                    "task-service": platform.tasks.log,
                    "notification-service": notifier.log,
                    "user-service": users.log,
                    "user-service (profiles)": profiles.log,
                    "operator": operator.log,
                    **{f"worker {w.queue}": w.log for w in workers},
                },
                secrets={
                    "admin access token": admin_token,
                    "worker service token": worker_token,
                    "notifier service token": feed_token,
                    "operator service token": operator_token,
                },
            )
        finally:
            for worker in workers:
                worker.stop()


def scale_up(operator: RunningOperator, tasks_url: str, admin: dict[str, str]) -> None:
    """A TaskQueue (2 tasks per replica) gets 3 tasks: the operator scales its worker
    Deployment from 0 to 2; the pods then report ready, as the kubelet would."""
    queues = operator.queues
    operator.run(queues.create(SCALED_TASKQUEUE))
    operator.run(queues.wait_condition(SCALED_TASKQUEUE, "Ready", "True"))
    for n in range(3):
        enqueue(tasks_url, admin, queues.queue(SCALED_TASKQUEUE), {"payload": {"n": n}})
    operator.run(queues.wait_replicas(SCALED_TASKQUEUE, 2))
    operator.run(queues.pods_ready(SCALED_TASKQUEUE, 2))
