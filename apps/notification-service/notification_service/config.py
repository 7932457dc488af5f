"""notification-service settings (environment variables, prefix ``TASKPLANE_``).

Every field is listed with its default in the app README, for the chart and Terraform.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self

import httpx
from pydantic import Field, SecretStr, model_validator

from notification_service.kek import parse_keys
from taskplane_client.auth import auth_for
from taskplane_common.settings import (
    DEV_SECRET_MARKER,
    LoopInterval,
    PagedServiceSettings,
    PollInterval,
    RetentionSettings,
)


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class Settings(PagedServiceSettings, RetentionSettings):
    service_name: str = Field("notification-service", validation_alias="OTEL_SERVICE_NAME")
    port: int = 8004

    # Peers, and the credential for them (scopes events:read and users:read): the
    # projected ServiceAccount token file in Kubernetes, else a service token.
    task_service_url: str = "http://localhost:8003"
    user_service_url: str = "http://localhost:8002"
    #: The auth-service, to exchange an opaque ``tps_`` service token for access tokens.
    auth_url: str | None = None
    service_token: SecretStr | None = None
    #: A projected ServiceAccount token (audience ``taskplane``), exchanged at ``auth_url``.
    token_file: Path | None = None
    peer_timeout_s: float = Field(10.0, gt=0, le=120)

    # Background work; API-only replicas may turn it off (several replicas may run it).
    background_enabled: bool = True
    feed_page_size: int = Field(200, ge=1, le=1000)
    feed_wait_s: float = Field(10.0, ge=0, le=60)
    feed_retry_s: LoopInterval = 2.0
    preferences_cache_ttl_s: float = Field(30.0, ge=0, le=3600)
    dispatch_poll_interval_s: PollInterval = 1.0
    #: A claimed delivery is retried by anyone after this long (a crashed sender).
    delivery_lease_s: float = Field(60.0, gt=0, le=3600)
    max_concurrency: int = Field(64, ge=1, le=1000)
    delivery_max_attempts: int = Field(10, ge=1, le=100)
    delivery_backoff_base_s: float = Field(30.0, gt=0, le=86400)
    delivery_backoff_max_s: float = Field(21600.0, gt=0, le=7 * 86400)

    # Webhooks.
    webhook_concurrency_per_endpoint: int = Field(4, ge=1, le=100)
    webhook_timeout_s: float = Field(10.0, gt=0, le=120)
    webhook_disable_after_s: float = Field(3 * 86400.0, gt=0)
    webhook_secret_grace_s: int = Field(86400, ge=0, le=30 * 86400)
    webhook_allow_loopback: bool = False
    webhook_follow_redirects: bool = False
    webhook_max_redirects: int = Field(3, ge=0, le=10)
    webhook_max_per_user: int = Field(25, ge=1, le=1000)
    webhook_max_url_length: int = Field(2048, ge=16, le=8192)

    # Email over SMTP; no host means no email channel.
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "taskplane <noreply@taskplane.local>"
    smtp_timeout_s: float = Field(10.0, gt=0, le=120)
    email_concurrency: int = Field(4, ge=1, le=100)

    # Feed -> SNS relay (the serverless path); off unless enabled.
    sns_relay_enabled: bool = False
    #: A standard topic: each message carries the event id as its ``event_id`` attribute.
    sns_topic_arn: str | None = None
    sns_region: str | None = None
    #: Another SNS endpoint (a VPC endpoint, a local emulator); None is AWS's own.
    sns_endpoint_url: str | None = None

    # Encryption at rest of webhook secrets (notification_service.keys): the KEK is KMS
    # when a key id is set, else the keyring file (a mounted Secret), else the value.
    #: Base64 AES-256 keys, comma-separated, the first wraps (the default is for laptops).
    secrets_kek: SecretStr = SecretStr(f"{DEV_SECRET_MARKER}-notification-kek-dev-only")
    secrets_kek_file: Path | None = None
    secrets_kms_key_id: str | None = None
    secrets_kms_region: str | None = None
    secrets_kms_endpoint_url: str | None = None

    # Retention (notification_service.retention); its interval and batch come with
    # RetentionSettings.
    #: Finished (succeeded or failed) deliveries and their attempts.
    delivery_retention_days: int = Field(30, ge=1, le=3650)
    #: In-app notifications read this long ago (unread ones are kept).
    read_notification_retention_days: int = Field(90, ge=1, le=3650)

    def peer_auth(self) -> httpx.Auth | None:
        """The credential of the calls to the task- and user-service, as every taskplane
        process has it (``auth_for``): the projected ServiceAccount token, else the
        service token."""
        token = self.service_token.get_secret_value() if self.service_token else None
        return auth_for(token, self.auth_url, str(self.token_file) if self.token_file else None)

    @model_validator(mode="after")
    def _kek_is_usable(self) -> Self:
        if self.secrets_kms_key_id is None and self.secrets_kek_file is None:
            parse_keys(self.secrets_kek.get_secret_value())
        return self

    @model_validator(mode="after")
    def _relay_needs_a_topic(self) -> Self:
        if self.sns_relay_enabled and not self.sns_topic_arn:
            raise ValueError("TASKPLANE_SNS_TOPIC_ARN is required with TASKPLANE_SNS_RELAY_ENABLED")
        return self

    @model_validator(mode="after")
    def _refuse_weak_notification_config(self) -> Self:
        if not self.is_production:
            return self
        problems: list[str] = []
        if self.background_enabled and self.service_token is None and self.token_file is None:
            problems.append(
                "TASKPLANE_TOKEN_FILE or TASKPLANE_SERVICE_TOKEN is required to read the event feed"
            )
        if self.webhook_allow_loopback:
            problems.append("TASKPLANE_WEBHOOK_ALLOW_LOOPBACK must not be true in production")
        if self.smtp_host and self.smtp_security is SmtpSecurity.NONE:
            problems.append("TASKPLANE_SMTP_SECURITY must be starttls or tls in production")
        if (
            self.secrets_kms_key_id is None
            and self.secrets_kek_file is None
            and DEV_SECRET_MARKER in self.secrets_kek.get_secret_value()
        ):
            problems.append(
                "TASKPLANE_SECRETS_KEK, TASKPLANE_SECRETS_KEK_FILE or "
                "TASKPLANE_SECRETS_KMS_KEY_ID is required (encryption of webhook secrets)"
            )
        if self.smtp_username and self.smtp_password is None:
            problems.append("TASKPLANE_SMTP_PASSWORD is required with TASKPLANE_SMTP_USERNAME")
        if problems:
            raise ValueError("refusing weak production configuration: " + "; ".join(problems))
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
