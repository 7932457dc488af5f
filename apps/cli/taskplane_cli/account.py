"""``taskplane login``, ``logout`` and ``whoami``: the stored login of a context."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from taskplane_cli.command import OutputOpt
from taskplane_cli.config import Login
from taskplane_cli.output import say, show
from taskplane_cli.session import fail, session
from taskplane_client import identity


def login(
    ctx: typer.Context,
    email: Annotated[str | None, typer.Option("--email", "-e", help="prompted if missing")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(help="store this token instead (an access token or a tps_ service token)"),
    ] = None,
) -> None:
    """Log in with your password (prompted), or store a token for scripts."""
    current = session(ctx)
    if token:
        current.credentials.put(current.context, Login(access_token=token.strip()))
        say(f"Token stored for context {current.context}.", current.output)
        return
    address = email or typer.prompt("Email")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    with current.client(authenticated=False) as client:
        pair = client.login(address, password)
    current.credentials.put(
        current.context,
        Login(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_at=time.time() + pair.expires_in,
            email=address,
        ),
    )
    roles = ", ".join(identity(pair.access_token).roles) or "no role"
    say(f"Logged in to {current.api_url} as {address} ({roles}).", current.output)


def logout(ctx: typer.Context) -> None:
    """End the stored login (the refresh token is revoked) and forget it."""
    current = session(ctx)
    stored = current.login()
    if stored is not None and stored.refresh_token:
        with current.client(authenticated=False) as client:
            client.logout(stored.refresh_token)
    current.credentials.put(current.context, None)
    say(f"Logged out of context {current.context}.", current.output)


def whoami(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Who the stored login (or TASKPLANE_TOKEN) is, read from its access token."""
    current = session(ctx, output)
    token = current.env_token or (stored.access_token if (stored := current.login()) else None)
    if token is None:
        fail("not logged in; run `taskplane login` first (or set TASKPLANE_TOKEN)")
    if token.startswith("tps_"):
        show({"context": current.context, "token": "service token (tps_…)"}, current.output)
        return
    claims = identity(token)
    show(
        {
            "context": current.context,
            "api_url": current.api_url,
            "user_id": claims.sub,
            "email": claims.email,
            "roles": claims.roles,
            "scope": claims.scope,
        },
        current.output,
    )


def register(root: typer.Typer) -> None:
    """Top-level commands: ``taskplane login`` and so on."""
    for command in (login, logout, whoami):
        root.command()(command)
