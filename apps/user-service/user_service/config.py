"""user-service settings (environment variables, prefix ``TASKPLANE_``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from taskplane_common.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = Field("user-service", validation_alias="OTEL_SERVICE_NAME")
    port: int = 8002
    default_page_size: int = Field(50, ge=1, le=500)
    max_page_size: int = Field(200, ge=1, le=1000)


@lru_cache
def get_settings() -> Settings:
    return Settings()
