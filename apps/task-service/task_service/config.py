"""task-service settings (environment variables, prefix ``TASKPLANE_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field, SecretStr
from taskplane_common.settings import DEV_SECRET_MARKER, ServiceSettings


class Settings(ServiceSettings):
    production_secrets: ClassVar[tuple[str, ...]] = ("cursor_secret",)

    service_name: str = Field("task-service", validation_alias="OTEL_SERVICE_NAME")
    port: int = 8003
    #: Signs pagination cursors so a tampered cursor is refused instead of misread.
    cursor_secret: SecretStr = SecretStr(f"{DEV_SECRET_MARKER}-cursor-secret")
    idempotency_ttl_hours: int = Field(24, ge=1, le=24 * 30)
    default_page_size: int = Field(50, ge=1, le=500)
    max_page_size: int = Field(200, ge=1, le=1000)


@lru_cache
def get_settings() -> Settings:
    return Settings()
