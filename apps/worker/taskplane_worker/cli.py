"""``taskplane-worker --queue NAME --handler SPEC [--concurrency N]``.

The API URL and token come from ``TASKPLANE_API_URL`` and ``TASKPLANE_TOKEN``; every
other option also has an environment variable so a Deployment can set it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys

from taskplane_common.client_auth import ServiceTokenAuth
from taskplane_common.logging import configure_logging
from taskplane_common.tracing import configure_tracer_provider
from taskplane_worker.handlers import Handler, resolve
from taskplane_worker.observability import start_metrics_server
from taskplane_worker.runtime import Worker, WorkerConfig


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="taskplane-worker", description=__doc__)
    parser.add_argument("--queue", required=True, help="queue to lease tasks from")
    parser.add_argument(
        "--handler",
        required=True,
        help="http://host:port/path | python:module:function | builtin:noop|sleep|echo|fail",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=int(_env("TASKPLANE_WORKER_CONCURRENCY", "4")),
        help="tasks handled at once (env TASKPLANE_WORKER_CONCURRENCY, default 4)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=int(_env("TASKPLANE_WORKER_METRICS_PORT", "9100")),
        help="port of /metrics and /healthz; 0 disables (env TASKPLANE_WORKER_METRICS_PORT)",
    )
    parser.add_argument(
        "--metrics-host",
        default=_env("TASKPLANE_WORKER_METRICS_HOST", "0.0.0.0"),  # noqa: S104
    )
    parser.add_argument(
        "--grace-period",
        type=float,
        default=float(_env("TASKPLANE_WORKER_GRACE_PERIOD_S", "25")),
        help="seconds to finish in-flight tasks after SIGTERM before releasing them",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=float(_env("TASKPLANE_WORKER_WAIT_S", "10")),
        help="long-poll duration of each lease request",
    )
    parser.add_argument(
        "--worker-id",
        default=_env("TASKPLANE_WORKER_ID", f"{socket.gethostname()}-{os.getpid()}"),
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    return args


def _config(args: argparse.Namespace) -> WorkerConfig:
    return WorkerConfig(
        api_url=_env("TASKPLANE_API_URL", "http://localhost:8003"),
        token=os.environ.get("TASKPLANE_TOKEN") or None,
        auth_url=os.environ.get("TASKPLANE_AUTH_URL") or None,
        queue=args.queue,
        concurrency=args.concurrency,
        worker_id=args.worker_id,
        grace_period_s=args.grace_period,
        wait_s=args.wait,
    )


async def _main(args: argparse.Namespace, config: WorkerConfig, handler: Handler) -> int:
    server = None
    if args.metrics_port:
        server = await start_metrics_server(args.metrics_host, args.metrics_port)
    try:
        return await Worker(config, handler).run()
    finally:
        if server is not None:
            server.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    configure_logging(_env("OTEL_SERVICE_NAME", "taskplane-worker"), _env("LOG_LEVEL", "INFO"))
    configure_tracer_provider(
        _env("OTEL_SERVICE_NAME", "taskplane-worker"),
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
    )
    try:
        handler = resolve(args.handler)
        config = _config(args)
        if config.token:
            ServiceTokenAuth(config.token, config.auth_url)  # refuse a bad token set-up now
    except (ValueError, ImportError, AttributeError) as exc:
        print(f"taskplane-worker: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(_main(args, config, handler)))
