"""``taskplane config ...``: named contexts (which URLs to talk to), like kubectl's.

These commands read and write the config file only; none of them calls the API.
"""

from __future__ import annotations

from typing import Annotated

import typer

from taskplane_cli.command import OutputOpt, group
from taskplane_cli.config import ConfigFile, Context
from taskplane_cli.output import Output, console, show
from taskplane_cli.session import fail, session

config = group("config", "Named contexts (which URLs to talk to), like kubectl's.")


@config.command("set-context")
def set_context(
    name: str,
    api_url: Annotated[str, typer.Option(help="task-service URL")] = Context().api_url,
    auth_url: Annotated[str, typer.Option(help="auth-service URL")] = Context().auth_url,
    use: Annotated[bool, typer.Option(help="make it the current context")] = False,
) -> None:
    """Add or change a context."""
    settings = ConfigFile.load()
    settings.contexts[name] = Context(api_url=api_url, auth_url=auth_url)
    if use:
        settings.current = name
    settings.save()
    console.print(f"Context {name}: {api_url} (auth {auth_url}).", markup=False)


@config.command("use-context")
def use_context(name: str) -> None:
    """Make a context the current one."""
    settings = ConfigFile.load()
    if name not in settings.contexts:
        fail(f"no context {name!r}; add it with `taskplane config set-context {name} ...`", code=2)
    settings.current = name
    settings.save()
    console.print(f"Now using context {name}.", markup=False)


@config.command("get-contexts")
def get_contexts(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Every context; the current one is marked."""
    current = session(ctx, output)
    settings = ConfigFile.load()
    rows = [
        {"current": "*" if name == settings.current else "", "name": name, **each.model_dump()}
        for name, each in sorted(settings.contexts.items())
    ]
    if current.output is Output.table:
        for row in rows:
            console.print(
                f"{row['current']:1} {row['name']}  {row['api_url']}  {row['auth_url']}",
                markup=False,
            )
    else:
        show(rows, current.output)


def register(root: typer.Typer) -> None:
    """``taskplane config ...``."""
    root.add_typer(config)
