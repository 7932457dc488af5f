"""``taskplane tasks ...`` and ``taskplane watch``: tasks, one at a time or listed."""

from __future__ import annotations

import time
from datetime import datetime
from itertools import islice
from typing import Annotated

import typer

from taskplane_cli.command import OutputOpt, connected, group, run
from taskplane_cli.output import Column, Output, console, fields, show
from taskplane_cli.session import fail
from taskplane_client import FINAL_STATUSES, TaskCreate, TaskFilter, TaskUpdate

tasks = group("tasks", "Tasks: create, list, read, change, delete, counts.")

TASK_COLUMNS: list[Column] = [
    *fields("id", "status", "priority", "title"),
    ("TAGS", lambda t: t.tags),
    ("QUEUE", lambda t: t.queue.name if t.queue else None),
]
IfMatch = Annotated[str | None, typer.Option(help="only if still this version (ETag)")]
Due = Annotated[datetime | None, typer.Option(help="due date (ISO 8601)")]
Assignee = Annotated[str | None, typer.Option(help="user id")]


@tasks.command("create")
def create(
    ctx: typer.Context,
    title: str,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
    priority: Annotated[
        str, typer.Option("--priority", "-p", help="low|medium|high|critical")
    ] = "medium",
    due: Due = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="repeat for more")] = None,
    assignee: Assignee = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="a retry replays the first answer")
    ] = None,
    output: OutputOpt = None,
) -> None:
    """Create a task."""
    body = TaskCreate.model_validate(
        {
            "title": title,
            "description": description,
            "priority": priority,
            "due_at": _aware(due),
            "tags": tag or [],
            "assignee_id": assignee,
        }
    )
    run(ctx, lambda client: client.create_task(body, idempotency_key=idempotency_key), output)


@tasks.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[list[str] | None, typer.Option("--status", "-s", help="repeat to OR")] = None,
    priority: Annotated[
        list[str] | None, typer.Option("--priority", "-p", help="repeat to OR")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="repeat: all must match")
    ] = None,
    assignee: Annotated[str | None, typer.Option(help="a user id, me or none")] = None,
    search: Annotated[str | None, typer.Option("--search", "-q", help="text search")] = None,
    sort: Annotated[str | None, typer.Option(help="e.g. -created_at, due_at, priority")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many")] = 50,
    output: OutputOpt = None,
) -> None:
    """List tasks you can see, newest first unless --sort says otherwise."""
    filters = TaskFilter(
        status=status or (),
        priority=priority or (),
        tag=tag or (),
        assignee=assignee,
        q=search,
        sort=sort,
    )
    run(
        ctx,
        lambda client: list(islice(client.iter_tasks(filters, page_size=min(limit, 200)), limit)),
        output,
        TASK_COLUMNS,
    )


@tasks.command("get")
def get(ctx: typer.Context, task_id: str, output: OutputOpt = None) -> None:
    """Show one task."""
    run(ctx, lambda client: client.get_task(task_id), output)


@tasks.command("update")
def update(
    ctx: typer.Context,
    task_id: str,
    title: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
    status: Annotated[str | None, typer.Option("--status", "-s")] = None,
    priority: Annotated[str | None, typer.Option("--priority", "-p")] = None,
    due: Due = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="replaces the tags")] = None,
    assignee: Assignee = None,
    if_match: IfMatch = None,
    output: OutputOpt = None,
) -> None:
    """Change the fields given; the others stay as they are."""
    given = {
        "title": title,
        "description": description,
        "status": status,
        "priority": priority,
        "due_at": _aware(due),
        "tags": tag,
        "assignee_id": assignee,
    }
    change = TaskUpdate.model_validate({k: v for k, v in given.items() if v is not None})
    if not change.model_fields_set:
        fail("nothing to change: give at least one option (see --help)", code=2)
    run(ctx, lambda client: client.update_task(task_id, change, if_match=if_match), output)


@tasks.command("delete")
def delete(ctx: typer.Context, task_id: str, if_match: IfMatch = None) -> None:
    """Delete a task."""
    run(
        ctx,
        lambda client: client.delete_task(task_id, if_match=if_match),
        says=f"Deleted task {task_id}.",
    )


@tasks.command("cancel")
def cancel(ctx: typer.Context, task_id: str, output: OutputOpt = None) -> None:
    """Cancel a queued task that has not finished."""
    run(ctx, lambda client: client.cancel_task(task_id), output)


@tasks.command("stats")
def stats(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Counts by status and priority, and how many are overdue."""
    run(ctx, lambda client: client.task_stats(), output)


def _aware(moment: datetime | None) -> str | None:
    """A date given without a zone is in the local zone."""
    return None if moment is None else moment.astimezone().isoformat()


def watch(
    ctx: typer.Context,
    task_id: str,
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between refreshes")] = 1.0,
    output: OutputOpt = None,
) -> None:
    """Follow a task until it is completed, dead or cancelled (exit 1 unless completed)."""
    last = ""
    with connected(ctx, output) as (current, client):
        while True:
            task = client.get_task(task_id)
            attempts = f" attempt {task.queue.attempts}" if task.queue else ""
            line = f"{task.id} {task.status}{attempts}"
            if line != last:
                if current.output is Output.table:
                    console.print(f"{time.strftime('%H:%M:%S')} {line}")
                last = line
            if task.status in FINAL_STATUSES:
                break
            time.sleep(interval)
    if current.output is Output.table:
        if task.queue is not None and task.queue.result is not None:
            console.print_json(data=task.queue.result)
        if task.queue is not None and task.queue.last_error:
            console.print(f"last error: {task.queue.last_error}", markup=False)
    else:
        show(task, current.output)
    if task.status != "completed":
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """``taskplane tasks ...``, and ``taskplane watch`` at the top level."""
    root.command()(watch)
    root.add_typer(tasks)
