"""Operator settings, read from the environment only, prefix ``TASKPLANE_``."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from taskplane_client.auth import SERVICE_TOKEN_PREFIX


class OperatorSettings(BaseSettings):
    """Everything the operator needs to know about its surroundings."""

    model_config = SettingsConfigDict(env_prefix="TASKPLANE_", extra="ignore")

    api_url: str = Field(
        default="http://task-service:8003", description="task-service base URL for the operator"
    )
    token_file: str | None = Field(
        default=None,
        description="projected ServiceAccount token (audience taskplane) exchanged at "
        "auth_url, re-read as the kubelet rotates it; wins over token (the chart mounts it)",
    )
    token: SecretStr | None = Field(
        default=None,
        description="outside Kubernetes: a token with scope queues:admin, a JWT or a tps_ "
        "service token that is exchanged at auth_url; no header when neither is set",
    )
    auth_url: str | None = Field(
        default=None,
        description="auth-service base URL; required with token_file or a tps_ service token",
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
    worker_token_audience: str = Field(
        default="taskplane",
        description="audience of the ServiceAccount token projected into every worker pod "
        "(the auth-service's TASKPLANE_AUTH_KUBERNETES_AUDIENCE)",
    )
    worker_token_expiration_s: int = Field(
        default=3600,
        ge=600,
        le=3600,
        description="expirationSeconds of that projected token (the kubelet rotates it at 80%)",
    )
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
    def _exchanged_token_needs_auth_url(self) -> Self:
        """Refuse at start-up what would otherwise fail on every task-service call."""
        token = self.token.get_secret_value() if self.token else ""
        if self.auth_url:
            return self
        if self.token_file:
            raise ValueError(
                "TASKPLANE_TOKEN_FILE is a ServiceAccount token, which must be exchanged at "
                "the auth-service: set TASKPLANE_AUTH_URL (e.g. http://auth-service:8001)"
            )
        if token.startswith(SERVICE_TOKEN_PREFIX):
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
        """Workers exchange their ServiceAccount tokens at the same auth-service by default."""
        return self.worker_auth_url or self.auth_url
