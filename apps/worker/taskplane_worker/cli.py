"""``taskplane-worker --queue NAME --handler SPEC [--concurrency N]``.

The API URL and credentials come from the environment (``TASKPLANE_API_URL``; in a pod
the projected ServiceAccount token of ``TASKPLANE_TOKEN_FILE``, elsewhere
``TASKPLANE_TOKEN``); every other option also has an environment variable so a
Deployment can set it.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import sys
from collections.abc import Callable
from typing import cast

from pydantic import ValidationError

from taskplane_client import ConnectionFailedError
from taskplane_client.auth import auth_for
from taskplane_client.commandline import exit_with, settings_problems
from taskplane_client.observability import configure_logging, configure_tracer_provider
from taskplane_worker.handlers import Handler, resolve
from taskplane_worker.observability import start_metrics_server
from taskplane_worker.runtime import Worker, WorkerConfig
from taskplane_worker.settings import WorkerSettings

DESCRIPTION = """\
Lease tasks from one taskplane queue and run a handler on each: heartbeats keep long
tasks leased, outcomes are reported (failures are retried by the server with backoff),
and SIGTERM stops leasing, lets in-flight tasks finish within --grace-period and exits 0.

handler SPEC:
  http://host:port/path    POST the payload as JSON; 2xx = success, a JSON body is the result
  python:module:function   call function(payload) (async functions are awaited)
  builtin:noop|echo|sleep|fail
                           nothing | result = payload | sleep payload.seconds | fail
"""

EPILOG = """\
environment:
  TASKPLANE_API_URL    task-service URL (default http://localhost:8003)
  TASKPLANE_TOKEN_FILE projected Kubernetes ServiceAccount token (audience taskplane),
                       exchanged at TASKPLANE_AUTH_URL; default when the file exists:
                       /var/run/secrets/taskplane/serviceaccount/token
  TASKPLANE_TOKEN      access token, or a service token (tps_...) with scope queues:work
                       (outside Kubernetes; TASKPLANE_TOKEN_FILE wins when both are set)
  TASKPLANE_AUTH_URL   auth-service URL, needed to exchange either token
  OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, LOG_LEVEL   logs and traces (a span
                       per task only when OTEL_EXPORTER_OTLP_ENDPOINT is set)
  TASKPLANE_WORKER_PREFETCH          tasks leased beyond the free slots (default 4)
  TASKPLANE_WORKER_COMPLETE_BATCH    completions reported per request at once (64)
  TASKPLANE_WORKER_COMPLETE_FLUSH_S  or this long after the first finished (0.015)
  TASKPLANE_WORKER_COMPLETE_BACKLOG  unreported completions that pause leasing (1000)
  TASKPLANE_WORKER_ANSWER_TIMEOUT_S  seconds a stream call waits for its answer before
                                     the stream is reopened (0: the visibility timeout)

example:
  TASKPLANE_TOKEN=tps_... TASKPLANE_AUTH_URL=http://localhost:8001 \\
    taskplane-worker --queue default --handler builtin:echo --metrics-port 9101

exit status: 0 after a clean stop, 1 when the API or the metrics port is unusable at
start, 2 for a bad command line.
"""

PROG = "taskplane-worker"


#: The options an environment variable also sets: flag, ``WorkerSettings`` field, help.
#: The help names the variable and the default, read from the field.
ENV_OPTIONS = (
    ("--concurrency", "concurrency", "tasks handled at once"),
    ("--metrics-port", "metrics_port", "port of /metrics and /healthz; 0 runs no metrics server"),
    ("--metrics-host", "metrics_host", "bind address of the metrics server"),
    (
        "--grace-period",
        "grace_period_s",
        "seconds to finish in-flight tasks after SIGTERM before releasing them",
    ),
    ("--wait", "wait_s", "long-poll seconds of each lease request"),
    (
        "--startup-timeout",
        "startup_timeout_s",
        "seconds to keep trying to reach the API at start, with backoff",
    ),
    ("--worker-id", "worker_id", "lease holder name"),
)


def _add_env_option(
    parser: argparse.ArgumentParser, env: WorkerSettings, flag: str, name: str, text: str
) -> None:
    field = WorkerSettings.model_fields[name]
    default = "<hostname>-<pid>" if field.default_factory else str(field.default)
    if isinstance(field.default, float):
        default = f"{field.default:g}"
    parser.add_argument(
        flag,
        type=cast("Callable[[str], object]", field.annotation),
        default=getattr(env, name),
        help=f"{text} (env {field.validation_alias}, default {default})",
    )


def parse_args(
    argv: list[str] | None = None, settings: WorkerSettings | None = None
) -> argparse.Namespace:
    """The command line; its defaults come from the environment (``WorkerSettings``)."""
    env = settings or WorkerSettings()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--queue", required=True, help="queue to lease tasks from")
    parser.add_argument("--handler", required=True, metavar="SPEC", help="what runs each task")
    for flag, name, text in ENV_OPTIONS:
        _add_env_option(parser, env, flag, name, text)
    parser.add_argument(
        "--no-stream",
        dest="stream",
        action="store_false",
        default=env.stream,
        help="lease with HTTP long-polls instead of the streaming lease "
        "(env TASKPLANE_WORKER_STREAM=false)",
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if not 0 <= args.metrics_port <= 65535:
        parser.error("--metrics-port must be between 0 and 65535")
    return args


def _config(args: argparse.Namespace, env: WorkerSettings) -> WorkerConfig:
    return WorkerConfig(
        api_url=env.api_url,
        token=env.token or None,
        auth_url=env.auth_url or None,
        queue=args.queue,
        concurrency=args.concurrency,
        worker_id=args.worker_id,
        grace_period_s=args.grace_period,
        wait_s=args.wait,
        startup_timeout_s=args.startup_timeout,
        prefetch=env.prefetch,
        short_task_s=env.short_task_ms / 1000,
        complete_batch=env.complete_batch,
        complete_flush_s=env.complete_flush_s,
        complete_backlog=env.complete_backlog,
        tracing=bool(env.otlp_endpoint),
        stream=args.stream,
        answer_timeout_s=env.answer_timeout_s or None,
    )


class StartupError(Exception):
    """Something the operator of this process must fix; printed as one line, exit 1."""


async def _main(args: argparse.Namespace, config: WorkerConfig, handler: Handler) -> int:
    server = None
    if args.metrics_port:
        try:
            server = await start_metrics_server(args.metrics_host, args.metrics_port)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise StartupError(
                    f"cannot serve metrics on port {args.metrics_port}: {exc}"
                ) from exc
            raise StartupError(
                f"port {args.metrics_port} is already in use (metrics); choose another with "
                "--metrics-port N, or --metrics-port 0 for no metrics server"
            ) from exc
    worker = Worker(config, handler)
    try:
        try:
            await worker.wait_for_api()
        except ConnectionFailedError as exc:
            await worker.client.aclose()
            raise StartupError(
                f"{exc} (TASKPLANE_API_URL); is the task-service running? "
                "`make run` starts one on http://localhost:8003"
            ) from exc
        return await worker.run()
    finally:
        if server is not None:
            server.close()


def main(argv: list[str] | None = None) -> None:
    try:
        env = WorkerSettings()
    except ValidationError as exc:
        if {"-h", "--help"} & set(sys.argv[1:] if argv is None else argv):
            parse_args(argv, WorkerSettings.model_construct())  # the help (defaults), exit 0
        exit_with(PROG, f"bad environment: {settings_problems(exc, WorkerSettings)}")
    args = parse_args(argv, env)
    configure_logging(env.service_name, env.log_level, env.log_format)
    configure_tracer_provider(env.service_name, env.otlp_endpoint or None)
    try:
        handler = resolve(args.handler)
        config = _config(args, env)
        auth_for(config.token, config.auth_url)  # refuse a bad credential set-up now
    except (ValueError, ImportError, AttributeError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(asyncio.run(_main(args, config, handler)))
    except StartupError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        sys.exit(1)
