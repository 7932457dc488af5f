"""Operator settings, read from the environment only, prefix ``TASKPLANE_``."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from taskplane_common.client_auth import SERVICE_TOKEN_PREFIX


class OperatorSettings(BaseSettings):
    """Everything the operator needs to know about its surroundings."""

    model_config = SettingsConfigDict(env_prefix="TASKPLANE_", extra="ignore")

    api_url: str = Field(
        default="http://task-service:8003", description="task-service base URL for the operator"
    )
    token: SecretStr | None = Field(
        default=None,
        description="token with scope queues:admin: a JWT, or a tps_ service token that is "
        "exchanged at auth_url; no header when unset",
    )
    auth_url: str | None = Field(
        default=None,
        description="auth-service base URL; required when token is a tps_ service token",
    )
    worker_image: str = Field(
        default="taskplane/worker:latest", description="image when spec.worker.image is absent"
    )
    worker_api_url: str | None = Field(
        default=None, description="task-service URL the workers use; defaults to api_url"
    )
    worker_auth_url: str | None = Field(
        default=None, description="auth-service URL the workers use; defaults to auth_url"
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

    @model_validator(mode="after")
    def _service_token_needs_auth_url(self) -> Self:
        """Refuse at start-up what would otherwise fail on every task-service call."""
        token = self.token.get_secret_value() if self.token else ""
        if token.startswith(SERVICE_TOKEN_PREFIX) and not self.auth_url:
            raise ValueError(
                "TASKPLANE_TOKEN is a service token (tps_…), which must be exchanged at the "
                "auth-service: set TASKPLANE_AUTH_URL (e.g. http://auth-service:8001)"
            )
        return self

    @property
    def effective_worker_api_url(self) -> str:
        """Workers usually reach the same in-cluster Service URL as the operator."""
        return self.worker_api_url or self.api_url

    @property
    def effective_worker_auth_url(self) -> str | None:
        """Workers exchange their own service tokens at the same auth-service by default."""
        return self.worker_auth_url or self.auth_url
