"""user-service settings (environment variables, prefix ``TASKPLANE_``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from taskplane_common.settings import PagedServiceSettings


class Settings(PagedServiceSettings):
    service_name: str = Field("user-service", validation_alias="OTEL_SERVICE_NAME")
    port: int = 8002


@lru_cache
def get_settings() -> Settings:
    return Settings()
