"""The worker's environment, read once by pydantic-settings (command-line flags win).

Every variable keeps the name it always had: ``TASKPLANE_API_URL``, ``TASKPLANE_TOKEN``
and ``TASKPLANE_AUTH_URL`` for the API, ``TASKPLANE_WORKER_*`` for the worker's own
options, ``OTEL_*`` and ``LOG_LEVEL`` for logs and traces.
"""

from __future__ import annotations

import os
import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    """Defaults of the command line and what only the environment sets."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    api_url: str = Field("http://localhost:8003", validation_alias="TASKPLANE_API_URL")
    #: Empty means none (a Deployment may set the variable to "").
    token: str = Field("", validation_alias="TASKPLANE_TOKEN")
    auth_url: str = Field("", validation_alias="TASKPLANE_AUTH_URL")
    concurrency: int = Field(4, validation_alias="TASKPLANE_WORKER_CONCURRENCY")
    metrics_port: int = Field(9100, validation_alias="TASKPLANE_WORKER_METRICS_PORT")
    metrics_host: str = Field(
        "0.0.0.0",  # noqa: S104 - scraped from outside the pod
        validation_alias="TASKPLANE_WORKER_METRICS_HOST",
    )
    grace_period_s: float = Field(25.0, validation_alias="TASKPLANE_WORKER_GRACE_PERIOD_S")
    wait_s: float = Field(10.0, validation_alias="TASKPLANE_WORKER_WAIT_S")
    startup_timeout_s: float = Field(60.0, validation_alias="TASKPLANE_WORKER_STARTUP_TIMEOUT_S")
    worker_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        validation_alias="TASKPLANE_WORKER_ID",
    )
    #: Tasks leased beyond the free slots, so a slot that frees starts the next task
    #: without waiting for a lease round trip.
    prefetch: int = Field(4, ge=0, validation_alias="TASKPLANE_WORKER_PREFETCH")
    #: Handlers averaging less than this (ms) get a prefetch of ``concurrency`` (0: never).
    short_task_ms: float = Field(20.0, ge=0, validation_alias="TASKPLANE_WORKER_SHORT_TASK_MS")
    #: Completions flush when this many wait, or ``complete_flush_s`` after the first.
    complete_batch: int = Field(
        64, ge=1, le=1000, validation_alias="TASKPLANE_WORKER_COMPLETE_BATCH"
    )
    complete_flush_s: float = Field(
        0.015, ge=0, validation_alias="TASKPLANE_WORKER_COMPLETE_FLUSH_S"
    )
    #: Completions waiting to be reported beyond which the worker leases nothing more.
    complete_backlog: int = Field(1000, ge=1, validation_alias="TASKPLANE_WORKER_COMPLETE_BACKLOG")
    #: The streaming lease (one WebSocket); false: HTTP lease long-polls.
    stream: bool = Field(True, validation_alias="TASKPLANE_WORKER_STREAM")
    #: Seconds a call on the stream waits for its answer before the worker drops the
    #: stream and opens a new one (a service or proxy that stopped answering); 0: the
    #: queue's visibility timeout.
    answer_timeout_s: float = Field(0.0, ge=0, validation_alias="TASKPLANE_WORKER_ANSWER_TIMEOUT_S")
    service_name: str = Field("taskplane-worker", validation_alias="OTEL_SERVICE_NAME")
    otlp_endpoint: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    log_format: str = Field("json", validation_alias="TASKPLANE_LOG_FORMAT")
