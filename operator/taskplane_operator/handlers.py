"""Every kopf handler of the operator; importing this module registers them.

Handlers only translate events into calls: parse the TaskQueue, call one function of
children.py, autoscaling.py or deletion.py (a handler's call inside ``step``, the one
failure policy of handlers: condition, metric, retry delay), and log. Only the package's
entry point imports this module.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import kopf
from prometheus_client import start_http_server
from pydantic import ValidationError

from taskplane_operator import autoscaling, children, cluster, deletion, metrics
from taskplane_operator.client import TaskServiceClient
from taskplane_operator.model import (
    GROUP,
    PLURAL,
    VERSION,
    InvalidSpecError,
    parse_spec,
)
from taskplane_operator.settings import OperatorSettings
from taskplane_operator.state import Services, object_state, services, spec_or_problem, step

FINALIZER = "taskplane.io/finalizer"

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[None]])


def on_spec(handler: Handler) -> Handler:
    """Run on every state a spec can arrive in: operator restart, creation and change."""
    for register in (kopf.on.update, kopf.on.create, kopf.on.resume):
        register(GROUP, VERSION, PLURAL)(handler)
    return handler


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Read our settings, tune kopf, open clients and the metrics port."""
    try:
        config = OperatorSettings()
    except ValidationError as exc:  # e.g. a token to exchange without TASKPLANE_AUTH_URL
        raise kopf.PermanentError(f"invalid settings: {exc}") from exc
    settings.persistence.finalizer = FINALIZER
    # Handler progress in annotations, never in .status: the structural schema of the
    # CRD would prune unknown status fields, and status belongs to the user's view.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # Only kopf's own warnings and errors become Events; ours are posted explicitly.
    settings.posting.level = logging.WARNING
    # One line per HTTP request at INFO would drown the operator's own log lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    token = config.token.get_secret_value() if config.token else None
    memo["services"] = Services(
        settings=config,
        cluster=cluster.Cluster(await cluster.connect()),
        tasks=TaskServiceClient(
            config.api_url,
            token,
            config.request_timeout_s,
            auth_url=config.auth_url,
            token_file=config.token_file,
        ),
    )
    if config.metrics_port:
        server, _thread = start_http_server(config.metrics_port, addr="0.0.0.0")  # noqa: S104
        memo["metrics_server"] = server


def kubernetes_login(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    """In-cluster service account first, else the kubeconfig (the order cluster.py uses)."""
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )
    if info is None:
        raise kopf.LoginError("no in-cluster service account and no kubeconfig found")
    return info


@kopf.on.login()
def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
    """kopf's credentials: :func:`kubernetes_login` (``python -m taskplane_operator``
    checks them the same way before kopf starts)."""
    return kubernetes_login(settings)


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    svc = services(memo)
    await svc.cluster.close()
    await svc.tasks.aclose()
    server = memo.get("metrics_server")
    if server is not None:
        server.shutdown()


@on_spec
async def reconcile_workers(
    body: kopf.Body, memo: kopf.Memo, retry: int, logger: kopf.Logger, **_: Any
) -> None:
    """ServiceAccount, worker Deployment, PDB and PodMonitor, owned by the TaskQueue.

    An invalid spec leaves the existing children alone (the workers keep the last good
    one); the next spec change runs this again. Every spec event also wakes the
    autoscaler, which registers the queue's new configuration (registration.py).
    """
    state = object_state(memo)
    state.spec_changed.set()
    spec = spec_or_problem(body, state)
    if spec is None:
        return
    async with state.lock:
        with step(body, state, "workers", "reconcile_workers", retry):
            applied = await children.apply_children(body, spec, services(memo), state)
    logger.info("workers reconciled: %s", children.describe(applied))


@kopf.daemon(
    GROUP,
    VERSION,
    PLURAL,
    id="autoscaler",
    cancellation_backoff=5.0,  # let a poll in progress finish ...
    cancellation_timeout=10.0,  # ... but never let a hung one block deletion
)
async def autoscaler(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    """Poll, register, scale and report until kopf stops us (object deleted or
    operator exit).

    A daemon rather than a timer: kopf fixes a timer's interval at decoration time,
    while pollIntervalSeconds differs per object and may change; the daemon also keeps
    the stabilization window in memory between polls, as the HPA does.
    """
    svc, state = services(memo), object_state(memo)
    while not stopped:
        started = time.monotonic()
        try:
            async with state.lock:
                state.poll_interval_s = await autoscaling.poll(body, svc, state)
        except cluster.KubernetesApiError as exc:  # the status write itself failed
            logger.warning("autoscaler could not write status: %s", exc.message)
        finally:
            metrics.POLL_SECONDS.observe(time.monotonic() - started)
        await autoscaling.sleep(stopped, state)


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
    try:
        spec = parse_spec(body.get("spec") or {})
    except InvalidSpecError:
        logger.warning("spec unreadable on deletion; retaining the queue")
        return
    with step(body, object_state(memo), "deletion", "apply_deletion_policy", retry):
        queue = await deletion.apply_policy(body, spec, services(memo), runtime)
    logger.info("deletionPolicy %s done for queue %s", spec.deletion_policy, queue)
    metrics.forget_queue(body.metadata.namespace or "", body.metadata.name or "", queue)
