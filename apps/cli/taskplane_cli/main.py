"""``taskplane``: log in, create and follow tasks, feed and watch queues, tail events.

Exit status: 0 done, 1 the API refused or could not be reached, 2 a usage error.

This module is the root command only; each command group lives in a module of its own
with a ``register(root)`` function, and one line of ``COMMANDS`` adds it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from taskplane_cli import account, audit, contexts, events, queues, tasks, tokens
from taskplane_cli.command import OutputOpt, env_option
from taskplane_cli.session import CliGroup, resolve

app = typer.Typer(
    cls=CliGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

#: Every command module, in the order ``taskplane --help`` lists them.
COMMANDS = (account, tasks, queues, events, tokens, audit, contexts)


@app.callback()
def root(
    ctx: typer.Context,
    context: Annotated[
        str | None, env_option("context from the config file", "TASKPLANE_CONTEXT")
    ] = None,
    api_url: Annotated[str | None, env_option("task-service URL", "TASKPLANE_API_URL")] = None,
    auth_url: Annotated[str | None, env_option("auth-service URL", "TASKPLANE_AUTH_URL")] = None,
    output: OutputOpt = None,
) -> None:
    """taskplane: log in, create and follow tasks, feed and watch queues, tail events.

    Exit status: 0 done, 1 the API refused or could not be reached, 2 a usage error.
    """
    ctx.obj = resolve(context, api_url, auth_url, output)


for module in COMMANDS:
    module.register(app)


def main() -> None:
    app(prog_name="taskplane")
