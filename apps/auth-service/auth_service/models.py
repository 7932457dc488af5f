"""Database tables of the auth-service, all in the PostgreSQL schema ``auth``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from taskplane_common.audit import audit_table
from taskplane_common.columns import Timestamp, TimestampNow, UuidColumn, UuidPrimaryKey
from taskplane_common.metadata import service_metadata

SCHEMA = "auth"
ROLES = ("admin", "member", "viewer")


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'member', 'viewer')", name="role_known"),
        CheckConstraint("email = lower(email)", name="email_lower"),
    )

    id: Mapped[UuidPrimaryKey]
    #: Stored lower-cased, so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20), server_default="member")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[TimestampNow]
    updated_at: Mapped[TimestampNow]


class RefreshToken(Base):
    """One link of a rotation chain; ``family_id`` groups a login session's chain."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ix_refresh_tokens_family", "family_id"),
        Index("ix_refresh_tokens_user", "user_id"),
        Index("ix_refresh_tokens_expires", "expires_at"),
    )

    id: Mapped[UuidPrimaryKey]
    family_id: Mapped[UuidColumn]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: SHA-256 of the opaque token: a database leak does not hand out sessions.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[TimestampNow]
    expires_at: Mapped[Timestamp]
    used_at: Mapped[Timestamp | None]
    revoked_at: Mapped[Timestamp | None]


class ServiceToken(Base):
    """An opaque credential for a worker or the operator, exchanged for access tokens."""

    __tablename__ = "service_tokens"

    id: Mapped[UuidPrimaryKey]
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[UuidColumn | None]
    created_at: Mapped[TimestampNow]
    expires_at: Mapped[Timestamp | None]
    revoked_at: Mapped[Timestamp | None]
    last_used_at: Mapped[Timestamp | None]


class SigningKey(Base):
    """An ES256 key pair; the newest unretired key signs, every unretired key verifies."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: PKCS#8 PEM encrypted with ``TASKPLANE_KEY_ENCRYPTION_KEY``.
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[TimestampNow]
    retired_at: Mapped[Timestamp | None]


class WorkloadBinding(Base):
    """A Kubernetes ServiceAccount allowed to work one queue (the operator records it for
    each TaskQueue's workers and deletes it with the TaskQueue)."""

    __tablename__ = "workload_bindings"

    namespace: Mapped[str] = mapped_column(String(63), primary_key=True)
    service_account: Mapped[str] = mapped_column(String(253), primary_key=True)
    queue: Mapped[str] = mapped_column(String(128))
    #: The ServiceAccount's ``metadata.uid``: given when binding, or recorded from the
    #: first token exchanged. A recreated ServiceAccount of the same name has another uid
    #: and is refused until bound again.
    service_account_uid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[TimestampNow]
    updated_at: Mapped[TimestampNow]


class Revocation(Base):
    """A subject whose access tokens minted before ``revoked_at`` are refused everywhere.

    Every token carries its subject's ``epoch`` at minting; a revocation raises it, and
    every service's verifier refuses tokens with a lower one. ``version`` orders the
    list for verifiers polling ``GET /api/v1/auth/revocations?since=``: revocations are
    written under one advisory lock, so versions commit in order and no poll misses one.
    One row per subject, kept for good (the epoch must never go back).
    """

    __tablename__ = "revocations"
    __table_args__ = (Index("ix_revocations_version", "version", unique=True),)

    subject: Mapped[str] = mapped_column(String(300), primary_key=True)
    subject_sha256: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[Timestamp]
    reason: Mapped[str] = mapped_column(String(100))


class RateLimit(Base):
    """Fixed-window counters shared by every replica (per account, per client address)."""

    __tablename__ = "rate_limits"

    bucket: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[Timestamp]
    count: Mapped[int] = mapped_column(Integer)


AUDIT_LOG = audit_table(Base.metadata)
