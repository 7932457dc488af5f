"""task-service settings (environment variables, prefix ``TASKPLANE_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field, SecretStr

from taskplane_common.settings import (
    DEV_SECRET_MARKER,
    CleanerBatch,
    CleanerInterval,
    LoopInterval,
    PagedServiceSettings,
    PollInterval,
)


class Settings(PagedServiceSettings):
    production_secrets: ClassVar[tuple[str, ...]] = ("cursor_secret",)

    service_name: str = Field("task-service", validation_alias="OTEL_SERVICE_NAME")
    port: int = 8003
    #: Signs pagination cursors so a tampered cursor is refused instead of misread.
    cursor_secret: SecretStr = SecretStr(f"{DEV_SECRET_MARKER}-cursor-secret")
    idempotency_ttl_hours: int = Field(24, ge=1, le=24 * 30)

    # Queue engine (see the README's configuration table).
    max_payload_bytes: int = Field(262_144, ge=64)
    max_enqueue_batch: int = Field(1000, ge=1, le=10_000)
    max_lease_batch: int = Field(100, ge=1, le=1000)
    max_wait_s: float = Field(30.0, ge=0, le=300)
    #: Long-poll re-check interval when no NOTIFY arrives (jittered ±25%).
    poll_interval_s: PollInterval = 1.0
    reaper_interval_s: LoopInterval = 1.0
    reaper_batch: int = Field(500, ge=1, le=10_000)
    #: Extra lease time past a task's ``timeout_s`` for the worker to report the timeout.
    timeout_grace_s: int = Field(5, ge=0, le=600)
    queue_metrics_interval_s: LoopInterval = 5.0
    #: How often a streaming lease's token is verified again (the stream ends with close
    #: code 4401 once it has expired or was revoked; the worker reconnects).
    stream_reauthorize_s: float = Field(30.0, gt=0, le=3600)
    #: Retention: events older than this are deleted (a cursor before them gets 410).
    event_retention_s: int = Field(7 * 86_400, ge=1)
    #: The cleaner's pass interval and batch size (rows per statement and transaction).
    cleaner_interval_s: CleanerInterval = 60.0
    cleaner_batch: CleanerBatch = 1000


@lru_cache
def get_settings() -> Settings:
    return Settings()
