"""The platform end to end, as separate processes talking HTTP on 127.0.0.1.

auth-service and task-service run as real servers; a real ``taskplane-worker`` process
authenticates with an opaque service token (exchanged for access tokens at the
auth-service) and runs an enqueued task to completion, continuing its trace.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from typing import Any

import httpx

from taskplane_testing.platform import Platform, platform
from taskplane_testing.processes import process_env, wait_until

__all__ = ["platform"]  # the fixture


def start_worker(handler: str, **env: str) -> subprocess.Popen[bytes]:
    """A real ``taskplane-worker`` on queue ``e2e``, output captured (stderr into stdout)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskplane_worker",
            "--queue",
            "e2e",
            "--handler",
            handler,
            "--metrics-port",
            "0",
            "--wait",
            "1",
        ],
        env=process_env("taskplane_worker", env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def stop(worker: subprocess.Popen[bytes]) -> str:
    """SIGTERM (a graceful drain) and the worker's whole output."""
    worker.send_signal(signal.SIGTERM)
    return worker.communicate(timeout=30)[0].decode(errors="replace")


def test_a_worker_with_a_service_token_completes_an_enqueued_task(
    platform: Platform,
) -> None:
    auth, tasks = platform.auth, platform.tasks
    admin = {"Authorization": f"Bearer {platform.admin_token()}"}
    service_token = platform.service_token("e2e-worker", "queues:work")
    assert service_token.startswith("tps_")

    # The service token itself is not an access token: the task-service refuses it.
    refused = httpx.get(
        f"{tasks.url}/api/v1/queues", headers={"Authorization": f"Bearer {service_token}"}
    )
    assert refused.status_code == 401

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    # Sent with urllib: when this test process has OpenTelemetry's httpx instrumentation
    # on (other tests configure it), httpx would replace our traceparent with its own.
    enqueue = urllib.request.Request(
        f"{tasks.url}/api/v1/queues/e2e/tasks",
        data=json.dumps({"payload": {"hello": "world"}, "title": "say hello"}).encode(),
        headers={
            **admin,
            "content-type": "application/json",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
        },
        method="POST",
    )
    with urllib.request.urlopen(enqueue, timeout=10) as enqueued:
        assert enqueued.status == 201
        task_url = f"{tasks.url}{enqueued.headers['location']}"

    worker = start_worker(
        "builtin:echo",
        TASKPLANE_API_URL=tasks.url,
        TASKPLANE_AUTH_URL=auth.url,
        TASKPLANE_TOKEN=service_token,
    )
    try:

        def completed() -> dict[str, Any] | None:
            body: dict[str, Any] = httpx.get(task_url, headers=admin).json()
            return body if body["status"] == "completed" else None

        task = wait_until(completed, "the task completed")
    finally:
        output = stop(worker)
    assert worker.returncode == 0, output
    assert task["queue"]["name"] == "e2e"
    assert task["queue"]["attempts"] == 1
    assert task["queue"]["result"] == {"hello": "world"}
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    done = [line for line in logged if line.get("task_id") == task["id"]]
    assert done, output
    assert done[0]["outcome"] == "completed"
    assert done[0]["trace_id"] == trace_id, "the handler span continues the enqueue trace"
    assert service_token not in output, "the service token must never be logged"


def test_a_service_token_without_the_auth_url_is_refused_at_start(
    platform: Platform,
) -> None:
    worker = start_worker(
        "builtin:noop", TASKPLANE_API_URL=platform.tasks.url, TASKPLANE_TOKEN="tps_" + "0" * 40
    )
    output = worker.communicate(timeout=30)[0].decode(errors="replace")
    assert worker.returncode == 2
    assert "TASKPLANE_AUTH_URL" in output


def test_an_unknown_service_token_is_reported_and_retried(
    platform: Platform,
) -> None:
    worker = start_worker(
        "builtin:noop",
        TASKPLANE_API_URL=platform.tasks.url,
        TASKPLANE_AUTH_URL=platform.auth.url,
        TASKPLANE_TOKEN="tps_" + "0" * 40,
    )
    assert worker.stdout is not None
    seen: list[bytes] = []
    for line in iter(worker.stdout.readline, b""):  # the worker logs each failed attempt
        seen.append(line)
        if b"refused the service token" in line or len(seen) > 200:
            break
    output = b"".join(seen).decode(errors="replace") + stop(worker)
    assert worker.returncode == 0, output
    assert "refused the service token (401)" in output
    assert "Traceback" not in output
