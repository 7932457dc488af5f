"""Operator settings, read from the environment only (design §2), prefix ``TASKPLANE_``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class OperatorSettings(BaseSettings):
    """Everything the operator needs to know about its surroundings."""

    model_config = SettingsConfigDict(env_prefix="TASKPLANE_", extra="ignore")

    api_url: str = Field(
        default="http://task-service:8003", description="task-service base URL for the operator"
    )
    token: SecretStr | None = Field(
        default=None, description="service token with scope queues:admin; no header when unset"
    )
    worker_image: str = Field(
        default="taskplane/worker:latest", description="image when spec.worker.image is absent"
    )
    worker_api_url: str | None = Field(
        default=None, description="task-service URL the workers use; defaults to api_url"
    )
    worker_token_secret: str = Field(
        default="taskplane-worker-token",
        description="Secret in each TaskQueue namespace holding the worker token",
    )
    worker_token_key: str = Field(default="token", description="key inside that Secret")
    watch_namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma list of namespaces to watch; empty = all"
    )
    monitoring_enabled: bool = Field(
        default=False, description="create a PodMonitor (prometheus-operator) per TaskQueue"
    )
    health_port: int = Field(default=8080, ge=0, le=65535, description="liveness :PORT/healthz")
    metrics_port: int = Field(default=9090, ge=0, le=65535, description="Prometheus :PORT/metrics")
    request_timeout_s: float = Field(default=10.0, gt=0, description="task-service HTTP timeout")
    grace_margin_s: int = Field(
        default=30, ge=0, description="added to visibilityTimeoutSeconds for the pod grace period"
    )
    log_format: Literal["plain", "full", "json"] = Field(
        default="json", description="kopf log format used by python -m taskplane_operator"
    )

    @field_validator("watch_namespaces", mode="before")
    @classmethod
    def _split_namespaces(cls, value: object) -> object:
        """Accept the comma list that a Helm value or a shell export naturally produces."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def effective_worker_api_url(self) -> str:
        """Workers usually reach the same in-cluster Service URL as the operator."""
        return self.worker_api_url or self.api_url
