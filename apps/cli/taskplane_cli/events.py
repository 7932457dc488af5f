"""``taskplane events tail``: the event feed, in order, then followed."""

from __future__ import annotations

from typing import Annotated

import typer

from taskplane_cli.command import OutputOpt, connected, group
from taskplane_cli.output import Output, console, show

events = group("events", "The event feed.")


@events.command("tail")
def tail(
    ctx: typer.Context,
    after: Annotated[str | None, typer.Option(help="a cursor; default: from the beginning")] = None,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="keep waiting for new ones")
    ] = True,
    output: OutputOpt = None,
) -> None:
    """Print events in order, then keep following the feed (Ctrl-C stops)."""
    with connected(ctx, output) as (current, client):
        try:
            for event in client.iter_events(after, follow=follow):
                if current.output is Output.table:
                    console.print(
                        f"{event.cursor} {event.occurred_at:%Y-%m-%d %H:%M:%S} {event.type} "
                        f"{event.task_id} {event.queue or '-'}",
                        markup=False,
                    )
                else:
                    show(event, current.output)
        except KeyboardInterrupt:
            pass


def register(root: typer.Typer) -> None:
    """``taskplane events ...``."""
    root.add_typer(events)
