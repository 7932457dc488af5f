"""Database tables of the user-service, all in the PostgreSQL schema ``users``."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, ForeignKey, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from taskplane_common.columns import TimestampNow, UuidPrimaryKey
from taskplane_common.metadata import service_metadata

SCHEMA = "users"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Profile(Base):
    """Keyed by the token's ``sub``; created the first time a user calls the service."""

    __tablename__ = "profiles"

    user_id: Mapped[UuidPrimaryKey]
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    locale: Mapped[str] = mapped_column(String(16), server_default="en")
    created_at: Mapped[TimestampNow]
    updated_at: Mapped[TimestampNow]


class NotificationPreference(Base):
    """One row per user and event type: which channels deliver it.

    A plain relational shape so the notification-service can ask "who wants
    task.failed by email?" in one indexed query; absent rows mean the defaults.
    """

    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("profiles.user_id", ondelete="CASCADE"), primary_key=True
    )
    event_type: Mapped[str] = mapped_column(String(50), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    webhook: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    in_app: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    updated_at: Mapped[TimestampNow]
