"""``taskplane audit``: read the services' append-only audit logs (admins).

Each service keeps its own log (written in the same transaction as the change it
records); ``audit list`` asks each chosen service and merges the answers newest first.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from taskplane_cli.command import OutputOpt, env_option, group
from taskplane_cli.output import Column, Output, fields, say, show
from taskplane_cli.session import fail, session
from taskplane_client.transport import Call, model

audit = group("audit", "The audit log: who changed what, when, from where (admins).")

AUDIT_PATH = "/api/v1/audit"
DEFAULT_NOTIFICATIONS_URL = "http://localhost:8004"


class AuditService(StrEnum):
    auth = "auth"
    tasks = "tasks"
    notifications = "notifications"


class AuditEntry(BaseModel):
    id: int
    occurred_at: datetime
    service: str
    actor: str
    actor_name: str | None = None
    action: str
    target: str
    outcome: str
    client_address: str | None = None
    trace_id: str | None = None
    details: dict[str, Any] = {}


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None = None


COLUMNS: list[Column] = [
    *fields("occurred_at", "service"),
    ("ACTOR", lambda e: e.actor_name or e.actor),
    *fields("action", "target", "outcome"),
]


@audit.command("list")
def audit_list(
    ctx: typer.Context,
    service: Annotated[
        list[AuditService] | None,
        typer.Option("--service", "-s", help="whose log (repeatable; default: all three)"),
    ] = None,
    actor: Annotated[
        str | None, typer.Option(help="a user id, service:<id> or ServiceAccount")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="an action (auth.login), or a prefix ending in '.'")
    ] = None,
    target: Annotated[str | None, typer.Option(help="e.g. queue:emails, user:<id>")] = None,
    outcome: Annotated[str | None, typer.Option(help="success or failure")] = None,
    since: Annotated[datetime | None, typer.Option(help="from this time (ISO 8601, UTC)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="entries per service")] = 50,
    cursor: Annotated[
        str | None, typer.Option(help="next_cursor of a previous page (one --service only)")
    ] = None,
    notifications_url: Annotated[
        str | None,
        env_option(
            "notification-service URL", "TASKPLANE_NOTIFICATIONS_URL", DEFAULT_NOTIFICATIONS_URL
        ),
    ] = None,
    output: OutputOpt = None,
) -> None:
    """Audit entries, newest first, filtered; -o json adds each service's next cursor."""
    chosen = service or list(AuditService)
    if cursor is not None and len(chosen) != 1:
        fail("--cursor pages one service's log: name it with --service", code=2)
    current = session(ctx, output)
    params = [
        (name, str(value))
        for name, value in (
            ("actor", actor),
            ("action", action),
            ("target", target),
            ("outcome", outcome),
            ("since", _utc(since).isoformat() if since else None),
            ("limit", limit),
            ("cursor", cursor),
        )
        if value is not None
    ]
    entries: list[AuditEntry] = []
    cursors: dict[str, str | None] = {}
    for which in chosen:
        base = current
        call = Call(
            "list_audit",
            "GET",
            AUDIT_PATH,
            model(AuditPage),
            service="auth" if which is AuditService.auth else "tasks",
            params=params,
            idempotent=True,
        )
        if which is AuditService.notifications:
            url = notifications_url or DEFAULT_NOTIFICATIONS_URL
            base = dataclasses.replace(current, api_url=url)
        with base.client() as client:
            page = client.send(call)
        entries.extend(page.items)
        cursors[which.value] = page.next_cursor
    entries.sort(key=lambda entry: entry.occurred_at, reverse=True)
    if current.output is Output.table:
        show(entries, current.output, COLUMNS)
        more = {name: value for name, value in cursors.items() if value}
        for name, value in more.items():
            say(f"More in {name}: --service {name} --cursor {value}", current.output)
        return
    show(
        {"items": [e.model_dump(mode="json") for e in entries], "next_cursors": cursors},
        current.output,
    )


def _utc(moment: datetime) -> datetime:
    """Typer parses naive datetimes: they are taken as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(root: typer.Typer) -> None:
    """``taskplane audit ...``."""
    root.add_typer(audit)
