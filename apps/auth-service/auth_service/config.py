"""auth-service settings (environment variables, prefix ``TASKPLANE_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator

from taskplane_common.settings import DEV_SECRET_MARKER, ServiceSettings

MIN_KEK_LENGTH = 32


class Settings(ServiceSettings):
    production_secrets: ClassVar[tuple[str, ...]] = ("key_encryption_key",)

    service_name: str = Field("auth-service", validation_alias="OTEL_SERVICE_NAME")
    port: int = 8001

    #: Encrypts the ES256 private keys stored in the database (PKCS#8, AES-256).
    key_encryption_key: SecretStr = SecretStr(f"{DEV_SECRET_MARKER}-key-encryption-key-dev-only")
    #: How long a replica trusts its cached view of the signing keys.
    key_cache_ttl_s: float = Field(5.0, ge=0, le=300)

    access_token_ttl_s: int = Field(900, ge=30, le=900)
    refresh_token_ttl_s: int = Field(14 * 24 * 3600, ge=300)

    password_min_length: int = Field(12, ge=8, le=128)
    password_max_length: int = Field(256, ge=16, le=1024)
    argon2_time_cost: int = Field(3, ge=1, le=20)
    argon2_memory_kib: int = Field(65_536, ge=8, le=1_048_576)
    argon2_parallelism: int = Field(2, ge=1, le=16)

    login_window_s: int = Field(300, ge=1)
    login_max_failures_per_account: int = Field(10, ge=1)
    login_max_attempts_per_address: int = Field(100, ge=1)

    registration_enabled: bool = True
    first_user_is_admin: bool = True
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None

    @model_validator(mode="after")
    def _auth_service_checks(self) -> Self:
        if self.auth_disabled:
            raise ValueError(
                "TASKPLANE_AUTH_DISABLED cannot be set for the auth-service: it issues the "
                "tokens; disable auth on the other services instead"
            )
        if self.is_production and len(self.key_encryption_key.get_secret_value()) < MIN_KEK_LENGTH:
            raise ValueError(
                f"TASKPLANE_KEY_ENCRYPTION_KEY must be at least {MIN_KEK_LENGTH} characters"
            )
        if self.bootstrap_admin_password is not None and not self.bootstrap_admin_email:
            raise ValueError(
                "TASKPLANE_BOOTSTRAP_ADMIN_PASSWORD needs TASKPLANE_BOOTSTRAP_ADMIN_EMAIL"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
