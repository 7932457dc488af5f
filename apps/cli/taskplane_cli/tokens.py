"""``taskplane tokens ...``: service tokens for workers and the operator (admins)."""

from __future__ import annotations

from typing import Annotated

import typer

from taskplane_cli.command import OutputOpt, group, run
from taskplane_cli.output import fields
from taskplane_client import ServiceTokenCreate

tokens = group("tokens", "Service tokens for workers and the operator (admins).")

TOKEN_COLUMNS = fields("id", "name", "scopes", "expires_at", "revoked_at")


@tokens.command("create")
def create(
    ctx: typer.Context,
    name: str,
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="queues:work, queues:admin, events:read, users:read"),
    ],
    expires_in_days: Annotated[int | None, typer.Option(min=1)] = None,
    output: OutputOpt = None,
) -> None:
    """Create a service token; its secret is shown once."""
    body = ServiceTokenCreate.model_validate(
        {"name": name, "scopes": scope, "expires_in_days": expires_in_days}
    )
    run(
        ctx,
        lambda client: client.create_service_token(body),
        output,
        says="Keep the token now: it is not shown again.",
    )


@tokens.command("list")
def list_(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Service tokens (never their secrets)."""
    run(ctx, lambda client: client.list_service_tokens(), output, TOKEN_COLUMNS)


@tokens.command("revoke")
def revoke(ctx: typer.Context, token_id: str) -> None:
    """Revoke a service token (its access tokens are refused within a minute)."""
    run(
        ctx,
        lambda client: client.revoke_service_token(token_id),
        says=f"Revoked service token {token_id}.",
    )


def register(root: typer.Typer) -> None:
    """``taskplane tokens ...``."""
    root.add_typer(tokens)
