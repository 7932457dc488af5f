"""Column kinds the services' ORM models share, each declared once.

A kind is a PEP 593 ``Annotated`` type carrying a ``mapped_column()`` (SQLAlchemy's
"Mapping Whole Column Declarations to Python Types"), so a model writes
``created_at: Mapped[TimestampNow]``. Nullability stays with the annotation, as for any
``Mapped[]``: ``Mapped[Timestamp]`` is NOT NULL, ``Mapped[Timestamp | None]`` nullable.
The ORM side of :mod:`taskplane_common.migration_ops`: ``Timestamp`` is ``timestamp()``,
``TimestampNow`` is ``timestamp_now()``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from sqlalchemy import DateTime, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import mapped_column

Timestamp = Annotated[datetime, mapped_column(DateTime(timezone=True))]
"""``timestamp with time zone`` without a default."""

TimestampNow = Annotated[
    datetime, mapped_column(DateTime(timezone=True), server_default=func.now())
]
"""``timestamp with time zone DEFAULT now()``: the database sets it at insert unless the
row brings its own (used NOT NULL, as ``timestamp_now()`` creates it)."""

UuidColumn = Annotated[uuid.UUID, mapped_column(UUID(as_uuid=True))]
"""A PostgreSQL ``uuid``, read as :class:`uuid.UUID`."""

UuidPrimaryKey = Annotated[uuid.UUID, mapped_column(UUID(as_uuid=True), primary_key=True)]
"""A ``uuid`` primary key, without a default (each row brings its id)."""
