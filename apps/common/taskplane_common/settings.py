"""Settings every service shares, read only from environment variables.

Services subclass :class:`ServiceSettings` and add their own fields. In production mode
the validators refuse missing or default secrets and the auth bypass, so a weak
configuration fails at start-up instead of running quietly.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_MARKER = "change-me"  # noqa: S105 - the marker of a default, not a secret
"""Default secrets contain this marker; production mode refuses any secret containing it."""

# Kinds of setting that several fields or services declare, each bounded once here; a
# field of one keeps its own name (its environment variable) and default.
PollInterval = Annotated[float, Field(gt=0, le=60)]
"""Seconds between two looks at something that may have changed without a notification
(a long poll's re-check, a claim loop): positive, at most a minute."""
LoopInterval = Annotated[float, Field(gt=0, le=300)]
"""Seconds between two runs of a background loop (a pass, a refresh, a retry after an
error): positive, at most five minutes."""
CleanerInterval = Annotated[float, Field(gt=0, le=86_400)]
"""Seconds between two passes of a retention cleaner: positive, at most a day."""
CleanerBatch = Annotated[int, Field(ge=1, le=100_000)]
"""Rows a retention cleaner deletes per statement and transaction."""
DatabaseTimeout = Annotated[float, Field(gt=0, le=60)]
"""Seconds a service waits on the database (a pooled connection, a new one): positive, at
most a minute."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Configuration common to every HTTP service (see each app's README for the table)."""

    model_config = SettingsConfigDict(env_prefix="TASKPLANE_", extra="ignore", frozen=True)

    #: Names of SecretStr fields that must be set to a non-default value in production.
    production_secrets: ClassVar[tuple[str, ...]] = ()

    service_name: str = Field(
        "taskplane", validation_alias=AliasChoices("OTEL_SERVICE_NAME", "TASKPLANE_SERVICE_NAME")
    )
    environment: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"
    #: ``json`` (default, for log pipelines) or ``console`` (people at a terminal).
    log_format: Literal["json", "console"] = "json"

    #: ``TASKPLANE_DATABASE_URL`` first: a component's own URL (RDS Proxy's endpoint, set
    #: through its ``secretEnv``) overrides the ``DATABASE_URL`` every component gets.
    database_url: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TASKPLANE_DATABASE_URL", "DATABASE_URL")
    )
    db_pool_size: int = Field(10, ge=1, le=200)
    db_max_overflow: int = Field(10, ge=0, le=200)
    #: How long a request queues for a pooled connection when every one is busy before it
    #: is answered 503 ``database-busy``: long enough to ride out a burst (at 1.5 s, 64
    #: concurrent clients on a busy 2-core node already got 503s), short enough to shed
    #: real overload.
    db_pool_timeout_s: DatabaseTimeout = 5.0
    #: Opening a new connection: a database that is gone or silent is a 503
    #: ``database-unavailable`` within this bound.
    db_connect_timeout_s: DatabaseTimeout = 1.5
    db_statement_timeout_ms: int = Field(15_000, ge=100)
    #: A pooled connection idle at least this long is pinged before use (a restarted or
    #: failed-over database, a connection dropped by a firewall); busy connections are
    #: not, which saves a round trip per request. 0 pings on every checkout.
    db_ping_idle_after_s: float = Field(10.0, ge=0)
    #: psycopg prepares a statement text server-side after its fifth run on a
    #: connection; off for a service behind a proxy that pins a session holding
    #: prepared statements (RDS Proxy).
    db_prepared_statements: bool = True

    auth_disabled: bool = False
    jwks_url: str | None = None
    jwt_issuer: str = "taskplane-auth"
    jwt_audience: str = "taskplane"
    jwks_cache_ttl_s: int = Field(300, ge=1)
    #: Floor between JWKS fetches triggered by unknown ``kid``s (anti-amplification).
    jwks_min_refetch_interval_s: float = Field(5.0, ge=0)
    #: Clock skew tolerated on ``exp``/``nbf``/``iat``.
    jwt_leeway_s: int = Field(30, ge=0, le=300)
    #: The auth-service's revocation list (default: beside ``TASKPLANE_JWKS_URL``).
    revocations_url: str | None = None
    #: How often the revocation list is polled while requests come in.
    revocations_poll_interval_s: float = Field(15.0, ge=1, le=30)
    #: A revocation list older than this is not trusted: tokens get 503 until a refresh.
    revocations_max_age_s: float = Field(60.0, ge=5, le=3600)

    #: How long audit entries are kept; the retention job deletes older ones.
    audit_retention_days: int = Field(400, ge=1, le=36_600)
    audit_retention_interval_s: float = Field(3600.0, gt=0)

    otel_exporter_otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_ENDPOINT", "TASKPLANE_OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
    )

    max_request_body_bytes: int = Field(1_048_576, ge=1024)

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @model_validator(mode="after")
    def _refuse_weak_production_config(self) -> Self:
        if not self.is_production:
            return self
        problems: list[str] = []
        if self.database_url is None:
            problems.append("DATABASE_URL is required in production")
        if self.auth_disabled:
            problems.append("TASKPLANE_AUTH_DISABLED must not be true in production")
        for name in self.production_secrets:
            secret = getattr(self, name)
            if secret is None or DEV_SECRET_MARKER in secret.get_secret_value():
                problems.append(f"TASKPLANE_{name.upper()} must be set to a non-default secret")
        if problems:
            raise ValueError("refusing weak production configuration: " + "; ".join(problems))
        return self


class RetentionSettings(ServiceSettings):
    """A service whose cleaner deletes rows past their retention
    (``taskplane_common.retention``), in bounded ``FOR UPDATE SKIP LOCKED`` batches."""

    retention_interval_s: CleanerInterval = 300.0
    retention_batch: CleanerBatch = 1000


class PagedServiceSettings(ServiceSettings):
    """A service with paged listings: the page a listing gets without ``limit``, and the
    largest ``limit`` it accepts."""

    default_page_size: int = Field(50, ge=1, le=500)
    max_page_size: int = Field(200, ge=1, le=1000)
