"""What every command module shares: the ``-o`` option and the one command body
(session -> client -> one call -> its answer in the chosen format)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any

import typer

from taskplane_cli.output import Column, Output, say, show
from taskplane_cli.session import Session, session
from taskplane_client import TaskplaneClient

OutputOpt = Annotated[
    Output | None,
    typer.Option("--output", "-o", help="table, json or yaml (env TASKPLANE_OUTPUT)"),
]


def env_option(what: str, envvar: str, default: str | None = None) -> Any:
    """An option that falls back on the environment variable ``envvar``, named in its
    help (in place of Typer's own ``[env var: ...]`` line), as is the ``default`` the
    command falls back on after that."""
    also = f", default {default}" if default else ""
    return typer.Option(envvar=envvar, show_envvar=False, help=f"{what} (env {envvar}{also})")


def group(name: str, help: str) -> typer.Typer:
    """A command group (``taskplane NAME ...``); ``--help`` without a command."""
    return typer.Typer(name=name, help=help, no_args_is_help=True)


@contextlib.contextmanager
def connected(
    ctx: typer.Context, output: Output | None = None
) -> Iterator[tuple[Session, TaskplaneClient]]:
    """The running command's session and a logged-in client, closed afterwards."""
    current = session(ctx, output)
    with current.client() as client:
        yield current, client


def run(
    ctx: typer.Context,
    call: Callable[[TaskplaneClient], Any],
    output: Output | None = None,
    columns: Sequence[Column] | None = None,
    *,
    says: str | None = None,
) -> None:
    """The body of a command that makes one API call: the answer (if any) is shown in the
    chosen format with ``columns`` for a table, then ``says``, a sentence for people."""
    with connected(ctx, output) as (current, client):
        answer = call(client)
    if answer is not None:
        show(answer, current.output, columns)
    if says is not None:
        say(says, current.output)
