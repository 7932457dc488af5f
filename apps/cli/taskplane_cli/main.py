"""``taskplane``: log in, create and follow tasks, feed and watch queues, tail events.

Exit status: 0 done, 1 the API refused or could not be reached, 2 a usage error.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.live import Live

from taskplane_cli import audit, bulk
from taskplane_cli.config import ConfigFile, Context, Login
from taskplane_cli.output import Column, Output, console, field, show
from taskplane_cli.output import say as _say
from taskplane_cli.session import CliGroup, Session, fail, resolve, session
from taskplane_client import (
    FINAL_STATUSES,
    NotFoundError,
    Queue,
    QueueConfig,
    ServiceTokenCreate,
    Task,
    TaskCreate,
    TaskEnqueue,
    TaskFilter,
    TaskplaneClient,
    TaskUpdate,
    identity,
)

app = typer.Typer(
    cls=CliGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
tasks_app = typer.Typer(
    help="Tasks: create, list, read, change, delete, counts.", no_args_is_help=True
)
queues_app = typer.Typer(help="Queues: configure, feed, inspect, watch.", no_args_is_help=True)
events_app = typer.Typer(help="The event feed.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="Service tokens for workers and the operator (admins).", no_args_is_help=True
)
config_app = typer.Typer(
    help="Named contexts (which URLs to talk to), like kubectl's.", no_args_is_help=True
)
app.add_typer(tasks_app, name="tasks")
app.add_typer(queues_app, name="queues")
app.add_typer(events_app, name="events")
app.add_typer(tokens_app, name="tokens")
app.add_typer(config_app, name="config")
app.add_typer(audit.app, name="audit", no_args_is_help=True)

OutputOpt = Annotated[
    Output | None,
    typer.Option("--output", "-o", help="table, json or yaml (env TASKPLANE_OUTPUT)"),
]
TASK_COLUMNS: list[Column] = [
    field("id"),
    field("status"),
    field("priority"),
    field("title"),
    ("TAGS", lambda t: t.tags),
    ("QUEUE", lambda t: t.queue.name if t.queue else None),
]
QUEUE_COLUMNS: list[Column] = [
    field("name"),
    field("available"),
    field("scheduled"),
    field("in_flight"),
    field("retrying"),
    field("dead"),
    field("completed_total"),
    ("PAUSED", lambda q: q.config.paused),
]
QUEUED_COLUMNS: list[Column] = [
    field("id"),
    field("status"),
    field("priority"),
    field("attempts"),
    field("title"),
    ("LAST_ERROR", lambda t: t.last_error),
]
TOKEN_COLUMNS: list[Column] = [
    field("id"),
    field("name"),
    field("scopes"),
    field("expires_at"),
    field("revoked_at"),
]


@app.callback()
def root(
    ctx: typer.Context,
    context: Annotated[
        str | None, typer.Option(help="context from the config file (env TASKPLANE_CONTEXT)")
    ] = None,
    api_url: Annotated[
        str | None, typer.Option(help="task-service URL (env TASKPLANE_API_URL)")
    ] = None,
    auth_url: Annotated[
        str | None, typer.Option(help="auth-service URL (env TASKPLANE_AUTH_URL)")
    ] = None,
    output: OutputOpt = None,
) -> None:
    """taskplane: log in, create and follow tasks, feed and watch queues, tail events.

    Exit status: 0 done, 1 the API refused or could not be reached, 2 a usage error.
    """
    ctx.obj = resolve(context, api_url, auth_url, output)


def say(current: Session, message: str) -> None:
    _say(message, current.output)


# ----------------------------------------------------------------------------- login


@app.command()
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
        say(current, f"Token stored for context {current.context}.")
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
    say(current, f"Logged in to {current.api_url} as {address} ({roles}).")


@app.command()
def logout(ctx: typer.Context) -> None:
    """End the stored login (the refresh token is revoked) and forget it."""
    current = session(ctx)
    stored = current.login()
    if stored is not None and stored.refresh_token:
        with current.client(authenticated=False) as client:
            client.logout(stored.refresh_token)
    current.credentials.put(current.context, None)
    say(current, f"Logged out of context {current.context}.")


@app.command()
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


# ----------------------------------------------------------------------------- tasks


@tasks_app.command("create")
def tasks_create(
    ctx: typer.Context,
    title: str,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
    priority: Annotated[
        str, typer.Option("--priority", "-p", help="low|medium|high|critical")
    ] = "medium",
    due: Annotated[datetime | None, typer.Option(help="due date (ISO 8601)")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="repeat for more")] = None,
    assignee: Annotated[str | None, typer.Option(help="user id")] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="a retry replays the first answer")
    ] = None,
    output: OutputOpt = None,
) -> None:
    """Create a task."""
    current = session(ctx, output)
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
    with current.client() as client:
        task = client.create_task(body, idempotency_key=idempotency_key)
    show(task, current.output)


@tasks_app.command("list")
def tasks_list(
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
    current = session(ctx, output)
    filters = TaskFilter(
        status=status or (),
        priority=priority or (),
        tag=tag or (),
        assignee=assignee,
        q=search,
        sort=sort,
    )
    with current.client() as client:
        found: list[Task] = []
        for task in client.iter_tasks(filters, page_size=min(limit, 200)):
            found.append(task)
            if len(found) >= limit:
                break
    show(found, current.output, TASK_COLUMNS)


@tasks_app.command("get")
def tasks_get(ctx: typer.Context, task_id: str, output: OutputOpt = None) -> None:
    """Show one task."""
    current = session(ctx, output)
    with current.client() as client:
        show(client.get_task(task_id), current.output)


@tasks_app.command("update")
def tasks_update(
    ctx: typer.Context,
    task_id: str,
    title: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
    status: Annotated[str | None, typer.Option("--status", "-s")] = None,
    priority: Annotated[str | None, typer.Option("--priority", "-p")] = None,
    due: Annotated[datetime | None, typer.Option(help="due date (ISO 8601)")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="replaces the tags")] = None,
    assignee: Annotated[str | None, typer.Option(help="user id")] = None,
    if_match: Annotated[str | None, typer.Option(help="only if still this version (ETag)")] = None,
    output: OutputOpt = None,
) -> None:
    """Change the fields given; the others stay as they are."""
    current = session(ctx, output)
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
    with current.client() as client:
        show(client.update_task(task_id, change, if_match=if_match), current.output)


@tasks_app.command("delete")
def tasks_delete(
    ctx: typer.Context,
    task_id: str,
    if_match: Annotated[str | None, typer.Option(help="only if still this version (ETag)")] = None,
) -> None:
    """Delete a task."""
    current = session(ctx)
    with current.client() as client:
        client.delete_task(task_id, if_match=if_match)
    say(current, f"Deleted task {task_id}.")


@tasks_app.command("cancel")
def tasks_cancel(ctx: typer.Context, task_id: str, output: OutputOpt = None) -> None:
    """Cancel a queued task that has not finished."""
    current = session(ctx, output)
    with current.client() as client:
        show(client.cancel_task(task_id), current.output)


@tasks_app.command("stats")
def tasks_stats(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Counts by status and priority, and how many are overdue."""
    current = session(ctx, output)
    with current.client() as client:
        show(client.task_stats(), current.output)


def _aware(moment: datetime | None) -> str | None:
    """A date given without a zone is in the local zone."""
    return None if moment is None else moment.astimezone().isoformat()


@app.command()
def watch(
    ctx: typer.Context,
    task_id: str,
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between refreshes")] = 1.0,
    output: OutputOpt = None,
) -> None:
    """Follow a task until it is completed, dead or cancelled (exit 1 unless completed)."""
    current = session(ctx, output)
    last = ""
    with current.client() as client:
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


# ----------------------------------------------------------------------------- queues


@queues_app.command("list")
def queues_list(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Every queue with its depth."""
    current = session(ctx, output)
    with current.client() as client:
        show(client.list_queues(), current.output, QUEUE_COLUMNS)


@queues_app.command("get")
def queues_get(ctx: typer.Context, queue: str, output: OutputOpt = None) -> None:
    """One queue: depth, totals and configuration."""
    current = session(ctx, output)
    with current.client() as client:
        show(client.get_queue(queue), current.output)


@queues_app.command("put")
def queues_put(
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
    current = session(ctx, output)
    given = {
        "max_attempts": max_attempts,
        "visibility_timeout_s": visibility_timeout,
        "backoff_base_s": backoff_base,
        "backoff_max_s": backoff_max,
        "rate_limit_per_s": rate_limit,
        "max_in_flight": max_in_flight,
    }
    with current.client() as client:
        show(_reconfigure(client, queue, given), current.output)


def _reconfigure(client: TaskplaneClient, queue: str, changes: dict[str, Any]) -> Queue:
    """PUT the queue's current configuration (or the defaults) with ``changes``."""
    try:
        config = client.get_queue(queue).config.model_dump()
    except NotFoundError:
        config = QueueConfig().model_dump()
    config.update({key: value for key, value in changes.items() if value is not None})
    return client.put_queue(queue, QueueConfig.model_validate(config))


@queues_app.command("pause")
def queues_pause(ctx: typer.Context, queue: str, output: OutputOpt = None) -> None:
    """Stop handing out tasks of this queue (enqueueing still works)."""
    current = session(ctx, output)
    with current.client() as client:
        show(_reconfigure(client, queue, {"paused": True}), current.output)


@queues_app.command("resume")
def queues_resume(ctx: typer.Context, queue: str, output: OutputOpt = None) -> None:
    """Hand out tasks of this queue again."""
    current = session(ctx, output)
    with current.client() as client:
        show(_reconfigure(client, queue, {"paused": False}), current.output)


@queues_app.command("enqueue")
def queues_enqueue(
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
    current = session(ctx, output)
    if file is not None:
        if payload is not None:
            fail("give --payload or --file, not both", code=2)
        with current.client() as client:
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
    with current.client() as client:
        show(client.enqueue(queue, task), current.output)


app.command("enqueue", help="Same as `queues enqueue`.")(queues_enqueue)


@queues_app.command("dead")
def queues_dead(
    ctx: typer.Context,
    queue: str,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    output: OutputOpt = None,
) -> None:
    """Dead-lettered tasks, most recent first."""
    current = session(ctx, output)
    with current.client() as client:
        show(client.list_dead(queue, limit=limit), current.output, QUEUED_COLUMNS)


@queues_app.command("retry")
def queues_retry(ctx: typer.Context, queue: str, task_id: str, output: OutputOpt = None) -> None:
    """Give a dead task a fresh set of attempts."""
    current = session(ctx, output)
    with current.client() as client:
        show(client.retry_dead(queue, task_id), current.output)


@queues_app.command("watch")
def queues_watch(
    ctx: typer.Context,
    queue: str,
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between refreshes")] = 2.0,
    until_empty: Annotated[
        bool, typer.Option(help="stop once nothing is waiting, scheduled, running or retrying")
    ] = False,
) -> None:
    """Refresh a queue's depth live (Ctrl-C stops)."""
    current = session(ctx)
    line = ""
    with current.client() as client, Live(console=console, auto_refresh=False) as live:
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


# ----------------------------------------------------------------------------- events


@events_app.command("tail")
def events_tail(
    ctx: typer.Context,
    after: Annotated[str | None, typer.Option(help="a cursor; default: from the beginning")] = None,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="keep waiting for new ones")
    ] = True,
    output: OutputOpt = None,
) -> None:
    """Print events in order, then keep following the feed (Ctrl-C stops)."""
    current = session(ctx, output)
    with current.client() as client:
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


# ----------------------------------------------------------------------------- tokens


@tokens_app.command("create")
def tokens_create(
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
    current = session(ctx, output)
    body = ServiceTokenCreate.model_validate(
        {"name": name, "scopes": scope, "expires_in_days": expires_in_days}
    )
    with current.client() as client:
        created = client.create_service_token(body)
    show(created, current.output)
    say(current, "Keep the token now: it is not shown again.")


@tokens_app.command("list")
def tokens_list(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Service tokens (never their secrets)."""
    current = session(ctx, output)
    with current.client() as client:
        show(client.list_service_tokens(), current.output, TOKEN_COLUMNS)


@tokens_app.command("revoke")
def tokens_revoke(ctx: typer.Context, token_id: str) -> None:
    """Revoke a service token (its access tokens end within their lifetime)."""
    current = session(ctx)
    with current.client() as client:
        client.revoke_service_token(token_id)
    say(current, f"Revoked service token {token_id}.")


# ----------------------------------------------------------------------------- config


@config_app.command("set-context")
def config_set_context(
    name: str,
    api_url: Annotated[str, typer.Option(help="task-service URL")] = Context().api_url,
    auth_url: Annotated[str, typer.Option(help="auth-service URL")] = Context().auth_url,
    use: Annotated[bool, typer.Option(help="make it the current context")] = False,
) -> None:
    """Add or change a context."""
    config = ConfigFile.load()
    config.contexts[name] = Context(api_url=api_url, auth_url=auth_url)
    if use:
        config.current = name
    config.save()
    console.print(f"Context {name}: {api_url} (auth {auth_url}).", markup=False)


@config_app.command("use-context")
def config_use_context(name: str) -> None:
    """Make a context the current one."""
    config = ConfigFile.load()
    if name not in config.contexts:
        fail(f"no context {name!r}; add it with `taskplane config set-context {name} ...`", code=2)
    config.current = name
    config.save()
    console.print(f"Now using context {name}.", markup=False)


@config_app.command("get-contexts")
def config_get_contexts(ctx: typer.Context, output: OutputOpt = None) -> None:
    """Every context; the current one is marked."""
    current = session(ctx, output)
    config = ConfigFile.load()
    rows = [
        {"current": "*" if name == config.current else "", "name": name, **ctx_.model_dump()}
        for name, ctx_ in sorted(config.contexts.items())
    ]
    if current.output is Output.table:
        for row in rows:
            console.print(
                f"{row['current']:1} {row['name']}  {row['api_url']}  {row['auth_url']}",
                markup=False,
            )
    else:
        show(rows, current.output)


def main() -> None:
    app(prog_name="taskplane")
