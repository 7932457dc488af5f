"""``taskplane queues ...`` and ``taskplane enqueue``: configure, feed, inspect, watch."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.live import Live

from taskplane_cli import bulk
from taskplane_cli.command import OutputOpt, connected, group, run
from taskplane_cli.output import Column, console, fields
from taskplane_cli.session import fail
from taskplane_client import NotFoundError, Queue, QueueConfig, TaskEnqueue, TaskplaneClient

queues = group("queues", "Queues: configure, feed, inspect, watch.")

QUEUE_COLUMNS: list[Column] = [
    *fields("name", "available", "scheduled", "in_flight", "retrying", "dead", "completed_total"),
    ("PAUSED", lambda q: q.config.paused),
]
QUEUED_COLUMNS: list[Column] = [
    *fields("id", "status", "priority", "attempts", "title"),
    ("LAST_ERROR", lambda t: t.last_error),
]


@queues.command("list")
def list_(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Every queue with its depth."""
    run(ctx, lambda client: client.list_queues(), output, QUEUE_COLUMNS)


@queues.command("get")
def get(ctx: typer.Context, queue: str, output: OutputOpt = None) -> None:
    """One queue: depth, totals and configuration."""
    run(ctx, lambda client: client.get_queue(queue), output)


@queues.command("put")
def put(
    ctx: typer.Context,
    queue: str,
    max_attempts: Annotated[int | None, typer.Option(min=1)] = None,
    visibility_timeout: Annotated[int | None, typer.Option(min=1, help="seconds")] = None,
    backoff_base: Annotated[float | None, typer.Option(min=0, help="seconds")] = None,
    backoff_max: Annotated[float | None, typer.Option(min=0, help="seconds")] = None,
    rate_limit: Annotated[float | None, typer.Option(help="tasks per second")] = None,
    max_in_flight: Annotated[int | None, typer.Option(min=1)] = None,
    output: OutputOpt = None,
) -> None:
    """Create a queue or change the settings given (others keep their value)."""
    given = {
        "max_attempts": max_attempts,
        "visibility_timeout_s": visibility_timeout,
        "backoff_base_s": backoff_base,
        "backoff_max_s": backoff_max,
        "rate_limit_per_s": rate_limit,
        "max_in_flight": max_in_flight,
    }
    run(ctx, lambda client: _reconfigure(client, queue, given), output)


def _reconfigure(client: TaskplaneClient, queue: str, changes: dict[str, Any]) -> Queue:
    """PUT the queue's current configuration (or the defaults) with ``changes``."""
    try:
        config = client.get_queue(queue).config.model_dump()
    except NotFoundError:
        config = QueueConfig().model_dump()
    config.update({key: value for key, value in changes.items() if value is not None})
    return client.put_queue(queue, QueueConfig.model_validate(config))


@queues.command("pause")
def pause(ctx: typer.Context, queue: str, output: OutputOpt = None) -> None:
    """Stop handing out tasks of this queue (enqueueing still works)."""
    run(ctx, lambda client: _reconfigure(client, queue, {"paused": True}), output)


@queues.command("resume")
def resume(ctx: typer.Context, queue: str, output: OutputOpt = None) -> None:
    """Hand out tasks of this queue again."""
    run(ctx, lambda client: _reconfigure(client, queue, {"paused": False}), output)


@queues.command("enqueue")
def enqueue(
    ctx: typer.Context,
    queue: str,
    payload: Annotated[str | None, typer.Option(help="JSON object given to the handler")] = None,
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="JSON Lines, one task per line (- = stdin)")
    ] = None,
    priority: Annotated[str, typer.Option("--priority", "-p")] = "medium",
    title: Annotated[str | None, typer.Option()] = None,
    delay: Annotated[float | None, typer.Option(min=0, help="seconds before it may run")] = None,
    dedupe_key: Annotated[
        str | None, typer.Option(help="a live task with this key is reused")
    ] = None,
    max_attempts: Annotated[int | None, typer.Option(min=1)] = None,
    timeout: Annotated[int | None, typer.Option(min=1, help="seconds per attempt")] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid/--all-or-nothing",
            help="with --file: send the valid lines despite bad ones, or nothing (default)",
        ),
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=1000, help="tasks per request")] = 500,
    output: OutputOpt = None,
) -> None:
    """Queue one task (--payload) or many (--file tasks.jsonl, with a progress bar)."""
    if file is not None:
        if payload is not None:
            fail("give --payload or --file, not both", code=2)
        with connected(ctx, output) as (current, client):
            bulk.enqueue_file(client, queue, file, skip_invalid, batch_size, current.output)
        return
    fields = {
        "payload": bulk.parse_payload(payload),
        "priority": priority,
        "title": title,
        "delay_s": delay,
        "dedupe_key": dedupe_key,
        "max_attempts": max_attempts,
        "timeout_s": timeout,
    }
    task = TaskEnqueue.model_validate({k: v for k, v in fields.items() if v is not None})
    run(ctx, lambda client: client.enqueue(queue, task), output)


@queues.command("dead")
def dead(
    ctx: typer.Context,
    queue: str,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    output: OutputOpt = None,
) -> None:
    """Dead-lettered tasks, most recent first."""
    run(ctx, lambda client: client.list_dead(queue, limit=limit), output, QUEUED_COLUMNS)


@queues.command("retry")
def retry(ctx: typer.Context, queue: str, task_id: str, output: OutputOpt = None) -> None:
    """Give a dead task a fresh set of attempts."""
    run(ctx, lambda client: client.retry_dead(queue, task_id), output)


@queues.command("watch")
def watch(
    ctx: typer.Context,
    queue: str,
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between refreshes")] = 2.0,
    until_empty: Annotated[
        bool, typer.Option(help="stop once nothing is waiting, scheduled, running or retrying")
    ] = False,
) -> None:
    """Refresh a queue's depth live (Ctrl-C stops)."""
    line = ""
    with connected(ctx) as (_, client), Live(console=console, auto_refresh=False) as live:
        try:
            while True:
                stats = client.get_queue(queue)
                line = _queue_line(stats)
                live.update(line, refresh=True)
                if until_empty and stats.pending == 0:
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
    if line and not console.is_terminal:
        console.print(line, markup=False)  # a live display leaves nothing in a pipe


def _queue_line(stats: Queue) -> str:
    return (
        f"{stats.name}: available {stats.available}, scheduled {stats.scheduled}, "
        f"in flight {stats.in_flight}, retrying {stats.retrying}, dead {stats.dead}, "
        f"completed {stats.completed_total}" + (" (paused)" if stats.config.paused else "")
    )


def register(root: typer.Typer) -> None:
    """``taskplane queues ...``, and ``taskplane enqueue`` at the top level."""
    root.command("enqueue", help="Same as `queues enqueue`.")(enqueue)
    root.add_typer(queues)
