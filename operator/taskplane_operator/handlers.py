"""kopf handlers, one per concern: operator lifecycle, workers, queue config, deletion.

The autoscaler daemon lives in autoscaler.py. Every handler turns failures into a
Degraded condition plus kopf.TemporaryError (retried with backoff); none lets an
exception escape that would crash the operator, and none deletes running workers.
"""

from __future__ import annotations

import datetime
import functools
import logging
from typing import Any

import kopf
from prometheus_client import start_http_server
from pydantic import ValidationError

from taskplane_operator import desired, metrics
from taskplane_operator.client import (
    QueueConfig,
    QueueNotFoundError,
    TaskServiceClient,
    TaskServiceError,
)
from taskplane_operator.kube import KubeApiError, KubeClient, discover_connection, path_for
from taskplane_operator.model import (
    GROUP,
    PLURAL,
    VERSION,
    TaskQueueSpec,
    handler_problem,
    parse_spec,
    queue_name,
)
from taskplane_operator.runtime import (
    Services,
    object_state,
    owner_of,
    retry_delay,
    services,
    set_problem,
)
from taskplane_operator.scaling import recommend
from taskplane_operator.settings import OperatorSettings
from taskplane_operator.status import Problem

FINALIZER = "taskplane.io/finalizer"


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Read our settings, tune kopf, open clients and the metrics port."""
    try:
        config = OperatorSettings()
    except ValidationError as exc:  # e.g. a tps_ token without TASKPLANE_AUTH_URL
        raise kopf.PermanentError(f"invalid settings: {exc}") from exc
    settings.persistence.finalizer = FINALIZER
    # Handler progress in annotations, never in .status: the structural schema of the
    # CRD would prune unknown status fields, and status belongs to the user's view.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # Only warnings and errors become Kubernetes Events; scaling events are explicit.
    settings.posting.level = logging.WARNING
    # One line per HTTP request at INFO would drown the operator's own log lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    token = config.token.get_secret_value() if config.token else None
    memo["services"] = Services(
        settings=config,
        kube=KubeClient(functools.partial(discover_connection, settings)),
        tasks=TaskServiceClient(
            config.api_url, token, config.request_timeout_s, auth_url=config.auth_url
        ),
    )
    if config.metrics_port:
        server, _thread = start_http_server(config.metrics_port, addr="0.0.0.0")  # noqa: S104
        memo["metrics_server"] = server


@kopf.on.login()
def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
    """The same credentials for kopf's watches and for our own KubeClient."""
    return discover_connection(settings)


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    svc = services(memo)
    await svc.kube.aclose()
    await svc.tasks.aclose()
    server = memo.get("metrics_server")
    if server is not None:
        server.shutdown()


def _spec_or_problem(body: kopf.Body, memo: kopf.Memo, key: str) -> TaskQueueSpec:
    """Parse the spec, or mark the object Degraded and retry later."""
    try:
        spec = parse_spec(body.get("spec") or {})
    except ValidationError as exc:
        message = f"invalid spec: {exc.error_count()} error(s): {exc.errors()[0]['msg']}"
        set_problem(body, object_state(memo), key, Problem("InvalidSpec", message))
        raise kopf.TemporaryError(message, delay=60) from exc
    return spec


def initial_replicas(spec: TaskQueueSpec) -> int:
    """Replicas of a new Deployment; the autoscaler's first poll corrects it at once."""
    if spec.paused:
        return 0
    if spec.replicas is not None:
        return spec.replicas
    return spec.scaling.min_replicas


async def ensure_workers(body: kopf.Body, spec: TaskQueueSpec, svc: Services) -> list[str]:
    """Create or patch every child; spec.replicas of the Deployment stays the scaler's."""
    results = []
    for obj in desired.children(owner_of(body), spec, svc.settings, initial_replicas(spec)):
        unmanaged = [("spec", "replicas")] if obj["kind"] == "Deployment" else []
        result, _ = await svc.kube.ensure(obj, unmanaged)
        results.append(f"{obj['kind']} {result}")
    return results


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def reconcile_workers(
    body: kopf.Body, memo: kopf.Memo, retry: int, logger: kopf.Logger, **_: Any
) -> None:
    """ServiceAccount, worker Deployment, PDB and PodMonitor, owned by the TaskQueue."""
    state = object_state(memo)
    spec = _spec_or_problem(body, memo, "workers")
    problem = desired_problem(spec)
    if problem is not None:
        # Leave the existing Deployment alone: the workers keep the last good handler.
        set_problem(body, state, "workers", problem)
        metrics.RECONCILES.labels("reconcile_workers", "retry").inc()
        raise kopf.TemporaryError(problem.message, delay=retry_delay(retry))
    try:
        results = await ensure_workers(body, spec, services(memo))
    except KubeApiError as exc:
        set_problem(body, state, "workers", Problem("KubernetesApiError", exc.message))
        metrics.RECONCILES.labels("reconcile_workers", "retry").inc()
        raise kopf.TemporaryError(exc.message, delay=retry_delay(retry)) from exc
    set_problem(body, state, "workers", None)
    state.workers_reconciled = True
    metrics.RECONCILES.labels("reconcile_workers", "success").inc()
    logger.info("workers reconciled: %s", ", ".join(results))


def desired_problem(spec: TaskQueueSpec) -> Problem | None:
    """Spec errors that the CRD should have refused (kept for objects that slipped by)."""
    message = handler_problem(spec.worker.handler)
    return Problem("InvalidHandler", message) if message else None


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def register_queue(
    body: kopf.Body, memo: kopf.Memo, retry: int, logger: kopf.Logger, **_: Any
) -> None:
    """PUT the queue configuration (retries, visibility, pause, limits) to the task-service."""
    state = object_state(memo)
    spec = _spec_or_problem(body, memo, "queue")
    queue = queue_name(spec, body.metadata.namespace or "", body.metadata.name or "")
    try:
        await services(memo).tasks.put_queue(queue, QueueConfig.from_spec(spec))
    except TaskServiceError as exc:
        set_problem(body, state, "queue", Problem(exc.reason, exc.message))
        metrics.RECONCILES.labels("register_queue", "retry").inc()
        raise kopf.TemporaryError(exc.message, delay=retry_delay(retry)) from exc
    set_problem(body, state, "queue", None)
    metrics.RECONCILES.labels("register_queue", "success").inc()
    logger.info("queue %s configured (paused=%s)", queue, spec.paused)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def apply_deletion_policy(
    body: kopf.Body,
    memo: kopf.Memo,
    retry: int,
    runtime: datetime.timedelta,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """Retain, Drain or Delete the queue before the finalizer lets the object go."""
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    try:
        spec = parse_spec(body.get("spec") or {})
    except ValidationError:
        logger.warning("spec unreadable on deletion; retaining the queue")
        return
    queue = queue_name(spec, namespace, name)
    svc = services(memo)
    timed_out = runtime.total_seconds() >= spec.deletion_timeout_seconds
    try:
        if spec.deletion_policy == "Delete":
            await _delete_queue(body, svc, queue)
        elif spec.deletion_policy == "Drain":
            await _drain(body, spec, svc, queue, timed_out)
        else:
            logger.info("deletionPolicy Retain: queue %s left on the task-service", queue)
    except (TaskServiceError, KubeApiError) as exc:
        if not timed_out:
            metrics.RECONCILES.labels("apply_deletion_policy", "retry").inc()
            raise kopf.TemporaryError(exc.message, delay=retry_delay(retry)) from exc
        kopf.warn(
            body,
            reason="DeletionTimedOut",
            message=f"gave up after {spec.deletion_timeout_seconds}s: {exc.message}",
        )
    metrics.RECONCILES.labels("apply_deletion_policy", "success").inc()
    metrics.forget_queue(namespace, name, queue)


async def _delete_queue(body: kopf.Body, svc: Services, queue: str) -> None:
    if await svc.tasks.delete_queue(queue):
        kopf.event(body, type="Normal", reason="QueueDeleted", message=f"queue {queue} deleted")
    else:
        kopf.event(
            body,
            type="Normal",
            reason="QueueNotDeleted",
            message=f"task-service has no DELETE for queue {queue} (404/405); left in place",
        )


async def _drain(
    body: kopf.Body, spec: TaskQueueSpec, svc: Services, queue: str, timed_out: bool
) -> None:
    """Keep workers running until nothing is available, in flight or awaiting a retry.

    The autoscaler daemon is already stopped here, so this handler owns the replicas:
    never fewer than now, at least one while work remains.
    """
    try:
        stats = await svc.tasks.get_stats(queue)
    except QueueNotFoundError:
        return
    remaining = stats.available + stats.in_flight + stats.retrying
    if remaining == 0:
        kopf.event(body, type="Normal", reason="Drained", message=f"queue {queue} is empty")
        return
    if timed_out:
        kopf.warn(
            body,
            reason="DrainTimedOut",
            message=f"{remaining} task(s) left in {queue} after "
            f"{spec.deletion_timeout_seconds}s; deleting the workers anyway",
        )
        return
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    path = path_for("apps/v1", "Deployment", namespace, desired.child_name(name))
    deployment = await svc.kube.get(path)
    if deployment is not None:
        current = int(deployment.get("spec", {}).get("replicas", 1))
        want = max(current, recommend(stats.available, stats.in_flight, spec.scaling), 1)
        if want != current:
            await svc.kube.merge_patch(path, {"spec": {"replicas": want}})
    paused = " (queue is paused: unpause it or it will not drain)" if spec.paused else ""
    raise kopf.TemporaryError(
        f"draining {queue}: {remaining} task(s) left{paused}",
        delay=spec.scaling.poll_interval_seconds,
    )
