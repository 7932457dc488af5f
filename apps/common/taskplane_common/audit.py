"""The append-only audit log every service keeps of who changed what.

Each service has an ``audit_log`` table in its own schema, and a change writes its audit
entry in the SAME transaction as the change itself: an entry cannot be lost to a crash
between the two, and no entry exists for a change that rolled back. One table per
service, rather than one central log fed through the event feed, keeps that guarantee
without a second delivery path; the CLI reads every service's log and merges them.

Append-only is enforced twice: no route updates or deletes an entry, and a trigger
refuses ``UPDATE`` always, ``DELETE`` unless the transaction declares itself the
retention job (``SET LOCAL taskplane.audit_retention_s``) and the row is older than that
retention, which may not be shorter than :data:`MIN_RETENTION_DAYS`, and ``TRUNCATE``
unless ``taskplane.audit_truncate`` is on (what the test fixtures that empty a schema
between tests set; no service does). Someone
with the database owner's password can still drop the trigger; ship the log (or the
database's own audit) elsewhere if that attacker is in scope.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from opentelemetry import trace
from prometheus_client import Counter
from pydantic import AwareDatetime, BaseModel, BeforeValidator
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from taskplane_common.background import Periodic, drain
from taskplane_common.db import Database, request_read_session
from taskplane_common.metadata import service_metadata
from taskplane_common.openapi import problems
from taskplane_common.principals import Principal, Role, require_role
from taskplane_common.settings import ServiceSettings

log = logging.getLogger(__name__)

TABLE = "audit_log"
#: The retention job may never delete entries younger than this (the trigger enforces it).
MIN_RETENTION_DAYS = 1
Outcome = Literal["success", "failure"]


_RFC3339_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def _rfc3339_text(value: object) -> object:
    """A query's date-time is RFC 3339 text, as the document says; lax pydantic would also
    read ``0.5`` as a Unix time."""
    if isinstance(value, str) and not _RFC3339_DATE.match(value):
        raise ValueError("must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z")
    return value


#: A date-time query parameter: RFC 3339 text with an offset.
QueryDatetime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
ANONYMOUS = "anonymous"
#: Entries per DELETE of the retention job (each batch its own short transaction).
RETENTION_BATCH = 1000

AUDIT_DELETED = Counter(
    "taskplane_audit_entries_deleted_total",
    "Audit entries the retention job deleted because they were older than the retention.",
    ["service"],
)


def audit_table(metadata: MetaData) -> Table:
    """The ``audit_log`` table in ``metadata``'s schema (models and migrations share it)."""
    return Table(
        TABLE,
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("occurred_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        #: The principal's subject (user id, ``service:<id>``, ServiceAccount) or anonymous.
        Column("actor", String(300), nullable=False),
        #: The actor's email or name when known, so a listing reads without look-ups.
        Column("actor_name", String(320)),
        Column("action", String(100), nullable=False),
        Column("target", String(500), nullable=False),
        Column("outcome", String(20), nullable=False),
        Column("client_address", String(100)),
        Column("trace_id", String(32)),
        Column("details", JSONB, server_default=text("'{}'::jsonb"), nullable=False),
        Index(None, "occurred_at"),
        Index(None, "actor", "id"),
        Index(None, "action", "id"),
    )


_GUARD = """
CREATE FUNCTION "{schema}".audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    retention text := current_setting('taskplane.audit_retention_s', true);
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(retention, '') ~ '^[0-9]+$'
       AND retention::bigint >= {min_seconds}
       AND OLD.occurred_at < now() - make_interval(secs => retention::bigint) THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'TRUNCATE' AND current_setting('taskplane.audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: %% refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON "{schema}".audit_log
    FOR EACH ROW EXECUTE FUNCTION "{schema}".audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON "{schema}".audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".audit_log_append_only();
"""


def create_audit_log(connection: Connection, schema: str) -> None:
    """Migration step: the table, its indexes and the append-only trigger."""
    audit_table(service_metadata(schema)).create(connection)
    guard = _GUARD.format(schema=schema, min_seconds=MIN_RETENTION_DAYS * 86_400)
    connection.exec_driver_sql(guard)


def drop_audit_log(connection: Connection, schema: str) -> None:
    connection.exec_driver_sql(f'DROP TABLE "{schema}".audit_log')
    connection.exec_driver_sql(f'DROP FUNCTION "{schema}".audit_log_append_only()')


def current_trace_id() -> str | None:
    """The trace of the request being served (it continues an incoming traceparent)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def client_address(request: Request | None) -> str | None:
    """The peer (uvicorn resolves X-Forwarded-For from trusted proxies only)."""
    return request.client.host if request is not None and request.client else None


async def record(
    session: AsyncSession,
    request: Request,
    *,
    action: str,
    target: str,
    actor: Principal | str | None,
    outcome: Outcome = "success",
    actor_name: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Insert one entry in ``session``'s transaction: it commits, or rolls back, with the
    change it records (the caller commits)."""
    table: Table = request.app.state.audit_table
    if isinstance(actor, Principal):
        actor_name = actor_name or actor.email or actor.name
        actor = actor.subject
    values = {
        "actor": (actor or ANONYMOUS)[:300],
        "actor_name": actor_name[:320] if actor_name else None,
        "action": action,
        "target": target[:500],
        "outcome": outcome,
        "client_address": client_address(request),
        "trace_id": current_trace_id(),
        "details": dict(details or {}),
    }
    await session.execute(table.insert().values(values))


# -- reading -----------------------------------------------------------------------------


class AuditEntry(BaseModel):
    id: int
    occurred_at: datetime
    service: str
    actor: str
    actor_name: str | None
    action: str
    target: str
    outcome: str
    client_address: str | None
    trace_id: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntry]
    #: Pass back as ``cursor`` for the next (older) page; null on the last page.
    next_cursor: str | None


def audit_router() -> APIRouter:
    """``GET /api/v1/audit``: admins page the log newest first, with filters.

    Only a GET: no route of any service updates or deletes an entry.
    """
    router = APIRouter(prefix="/api/v1", tags=["audit"])

    @router.get(
        "/audit",
        response_model=AuditPage,
        summary="The audit log, newest first (admins only); next_cursor pages on",
        responses=problems(401, 403, s401="No or invalid token", s403="Not an admin"),
    )
    async def list_audit(
        request: Request,
        session: Annotated[AsyncSession, Depends(request_read_session)],
        _admin: Annotated[Principal, Depends(require_role(Role.ADMIN))],
        actor: Annotated[str | None, Query(max_length=300)] = None,
        action: Annotated[
            str | None,
            Query(max_length=100, description="An action, or a prefix ending in '.'"),
        ] = None,
        target: Annotated[str | None, Query(max_length=500)] = None,
        outcome: Annotated[Outcome | None, Query()] = None,
        since: Annotated[QueryDatetime | None, Query()] = None,
        until: Annotated[QueryDatetime | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
    ) -> AuditPage:
        table: Table = request.app.state.audit_table
        c = table.c
        query = select(table).order_by(c.id.desc()).limit(limit + 1)
        if actor is not None:
            query = query.where(c.actor == actor)
        if action is not None:
            prefix = action.endswith(".")
            query = query.where(c.action.startswith(action) if prefix else c.action == action)
        if target is not None:
            query = query.where(c.target == target)
        if outcome is not None:
            query = query.where(c.outcome == outcome)
        if since is not None:
            query = query.where(c.occurred_at >= since)
        if until is not None:
            query = query.where(c.occurred_at < until)
        if cursor is not None:
            # Entries older than the cursor: any digits the document allows are a position,
            # those past the largest id start from the newest entry.
            query = query.where(c.id < min(int(cursor), 2**63 - 1))
        rows = (await session.execute(query)).mappings().all()
        service: str = request.app.state.settings.service_name
        items = [AuditEntry(service=service, **row) for row in rows[:limit]]
        more = len(rows) > limit
        return AuditPage(items=items, next_cursor=str(items[-1].id) if more else None)

    return router


# -- retention ---------------------------------------------------------------------------


async def delete_expired(database: Database, schema: str, retention_days: int) -> int:
    """Delete entries older than ``retention_days``, batch by batch; returns the count.

    Each batch first tells the table's guard (``taskplane.audit_retention_s``, local to
    its transaction) that this deletion is retention, which the guard checks against
    the entries' age: no other statement may delete an entry."""
    retention_s = retention_days * 86_400
    statement = text(
        f'DELETE FROM "{schema}".audit_log WHERE id IN ('  # noqa: S608 - schema is ours
        f'SELECT id FROM "{schema}".audit_log '
        "WHERE occurred_at < now() - make_interval(secs => :retention_s) "
        "ORDER BY occurred_at LIMIT :batch FOR UPDATE SKIP LOCKED)"
    )

    async def batch(session: AsyncSession) -> dict[str, int]:
        await session.execute(
            text("SELECT set_config('taskplane.audit_retention_s', :value, true)"),
            {"value": str(retention_s)},
        )
        result = await session.execute(
            statement, {"retention_s": retention_s, "batch": RETENTION_BATCH}
        )
        return {"audit_log": int(getattr(result, "rowcount", 0) or 0)}

    return (await drain(database, RETENTION_BATCH, batch))["audit_log"]


class AuditRetention(Periodic):
    """Runs :func:`delete_expired` every ``TASKPLANE_AUDIT_RETENTION_INTERVAL_S``."""

    name = "audit-retention"

    def __init__(self, database: Database, schema: str, settings: ServiceSettings) -> None:
        super().__init__(database, settings.audit_retention_interval_s)
        self.schema = schema
        self.retention_days = settings.audit_retention_days
        self.deleted = AUDIT_DELETED.labels(settings.service_name)

    async def run_once(self) -> None:
        self.deleted.inc(await delete_expired(self.database, self.schema, self.retention_days))
