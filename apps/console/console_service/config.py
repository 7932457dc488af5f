"""console settings (environment variables, prefix ``TASKPLANE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field

from taskplane_common.settings import ServiceSettings

#: Where ``npm run build`` writes the SPA in a source checkout.
DEFAULT_STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "build"


class Settings(ServiceSettings):
    service_name: str = Field("console", validation_alias="OTEL_SERVICE_NAME")
    port: int = 8005
    auth_url: str = "http://127.0.0.1:8001"
    task_service_url: str = "http://127.0.0.1:8003"
    user_service_url: str = "http://127.0.0.1:8002"
    notification_service_url: str = "http://127.0.0.1:8004"
    #: The built single-page app (``apps/console/web/build``; ``/srv/console`` in the image).
    static_dir: Path = DEFAULT_STATIC_DIR
    #: Idle sessions end after this long (the refresh token's own TTL still applies).
    session_idle_s: int = Field(8 * 3600, ge=60)
    #: Upstream timeout; the event feed's long poll gets its ``wait_s`` on top.
    upstream_timeout_s: float = Field(30.0, gt=0)
    #: Shown by the console as a link per event (``{trace_id}`` is substituted).
    jaeger_url: str | None = None


@lru_cache
def get_settings() -> Settings:
    return Settings()
