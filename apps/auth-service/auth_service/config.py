"""auth-service settings (environment variables, prefix ``TASKPLANE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator

from taskplane_common.settings import DEV_SECRET_MARKER, RetentionSettings

MIN_KEK_LENGTH = 32
#: Where a pod finds its own ServiceAccount token and the cluster CA (TokenReview mode).
#: What the operator's ServiceAccount may do: configure queues, bind workers, read events.
OPERATOR_SCOPES = frozenset({"queues:admin", "workload-bindings:write", "events:read"})
#: What the notification-service's ServiceAccount may do: follow the feed, read preferences.
NOTIFIER_SCOPES = frozenset({"events:read", "users:read"})

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class Settings(RetentionSettings):
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

    # Retention (auth_service.retention); its interval and batch come with RetentionSettings.
    #: Refresh tokens are kept this long after they expire (reuse shows in the logs).
    refresh_token_retention_s: int = Field(86_400, ge=0, le=365 * 86_400)

    registration_enabled: bool = True
    first_user_is_admin: bool = True
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None

    #: The cluster's ServiceAccount token issuer; setting it enables the exchange at
    #: ``/api/v1/auth/kubernetes-token``.
    auth_kubernetes_issuer: str | None = None
    #: The audience workloads request for their projected token (never the API server's).
    auth_kubernetes_audience: str = Field("taskplane", min_length=1)
    #: ``oidc``: verify signatures with the issuer's JWKS (discovery); ``tokenreview``:
    #: ask the Kubernetes API server.
    auth_kubernetes_mode: Literal["oidc", "tokenreview"] = "oidc"
    #: CA bundle for the issuer's HTTPS endpoints (oidc mode); the system CAs otherwise.
    auth_kubernetes_ca_file: Path | None = None
    #: Skip discovery and fetch the JWKS here (oidc mode).
    auth_kubernetes_jwks_url: str | None = None
    #: Comma-separated ``namespace:serviceaccount`` identities that get the operator's
    #: scopes (queues:admin, workload-bindings:write, events:read).
    auth_kubernetes_operators: str = ""
    #: Comma-separated ``namespace:serviceaccount`` identities that get the
    #: notification-service's scopes (events:read, users:read).
    auth_kubernetes_notifiers: str = ""
    #: How long fetched JWKS keys are trusted before a refetch.
    auth_kubernetes_jwks_ttl_s: float = Field(300.0, ge=0, le=86_400)
    auth_kubernetes_timeout_s: float = Field(5.0, gt=0, le=60)
    #: TokenReview mode: the API server, and this pod's own token and CA to call it with.
    auth_kubernetes_api_url: str = "https://kubernetes.default.svc"
    auth_kubernetes_api_token_file: Path = IN_CLUSTER_DIR / "token"
    auth_kubernetes_api_ca_file: Path = IN_CLUSTER_DIR / "ca.crt"

    @property
    def kubernetes_platform_scopes(self) -> dict[tuple[str, str], frozenset[str]]:
        """The platform's own ServiceAccounts, ``(namespace, name)``, and their scopes."""
        granted: dict[tuple[str, str], frozenset[str]] = {}
        for listing, scopes in (
            (self.auth_kubernetes_notifiers, NOTIFIER_SCOPES),
            (self.auth_kubernetes_operators, OPERATOR_SCOPES),
        ):
            for ns, _, name in (item.strip().partition(":") for item in listing.split(",")):
                if ns and name:
                    granted[(ns, name)] = granted.get((ns, name), frozenset()) | scopes
        return granted

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
        for variable, listing in (
            ("TASKPLANE_AUTH_KUBERNETES_OPERATORS", self.auth_kubernetes_operators),
            ("TASKPLANE_AUTH_KUBERNETES_NOTIFIERS", self.auth_kubernetes_notifiers),
        ):
            items = (item.strip() for item in listing.split(","))
            malformed = [item for item in items if item and item.count(":") != 1]
            if malformed:
                raise ValueError(
                    f"{variable} takes namespace:serviceaccount items, not {malformed[0]!r}"
                )
        if self.bootstrap_admin_password is not None and not self.bootstrap_admin_email:
            raise ValueError(
                "TASKPLANE_BOOTSTRAP_ADMIN_PASSWORD needs TASKPLANE_BOOTSTRAP_ADMIN_EMAIL"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
