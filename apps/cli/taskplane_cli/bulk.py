"""``taskplane queues enqueue QUEUE --file tasks.jsonl``: many tasks from a JSON Lines file.

Every line is checked before anything is sent, and a bad line is reported with its
number. By default (``--all-or-nothing``) one bad line means nothing is sent; with
``--skip-invalid`` the valid lines go and the bad ones are listed. Lines go in batches
(one transaction each) under a progress bar, and a summary closes the run.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from taskplane_cli.output import Output, console, errors, show
from taskplane_cli.session import each_line, fail
from taskplane_client import TaskEnqueue, TaskplaneClient


def parse_payload(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--payload is not JSON: {exc}", code=2)
    if not isinstance(value, dict):
        fail("--payload must be a JSON object", code=2)
    return value


def _problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def parse_lines(lines: list[str]) -> tuple[list[TaskEnqueue], list[tuple[int, str]]]:
    """The valid tasks, and (line number, problem) for each bad line; blank lines skip."""
    tasks: list[TaskEnqueue] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            tasks.append(TaskEnqueue.model_validate_json(line))
        except ValidationError as exc:
            kind = exc.errors()[0]["type"]
            bad.append((number, "not JSON" if kind == "json_invalid" else _problem(exc)))
    return tasks, bad


def enqueue_file(
    client: TaskplaneClient,
    queue: str,
    path: str,
    skip_invalid: bool,
    batch_size: int,
    output: Output,
) -> None:
    try:
        lines = each_line(path)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", code=2)
    tasks, bad = parse_lines(lines)
    for number, problem in bad:
        errors.print(f"{path}:{number}: {problem}", markup=False)
    if bad and not skip_invalid:
        fail(
            f"{len(bad)} bad line(s); nothing was sent (--skip-invalid sends the valid ones)",
            code=2,
        )
    if not tasks:
        fail(f"{path} has no task to send", code=2)
    sent = 0
    deduplicated = 0
    progress = Progress(
        TextColumn(f"enqueue {queue}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=errors,
        transient=False,
    )
    try:
        with progress:
            bar = progress.add_task("enqueue", total=len(tasks))
            for start in range(0, len(tasks), batch_size):
                batch = tasks[start : start + batch_size]
                queued = client.enqueue_many(queue, batch)
                sent += len(queued)
                deduplicated += sum(1 for task in queued if task.deduplicated)
                progress.update(bar, advance=len(batch))
    finally:
        summary = {
            "queue": queue,
            "enqueued": sent,
            "deduplicated": deduplicated,
            "skipped_lines": [number for number, _ in bad],
            "not_sent": len(tasks) - sent,
        }
        if output is Output.table:
            console.print(
                f"Enqueued {sent} of {len(tasks)} task(s) on {queue}"
                f" ({deduplicated} deduplicated, {len(bad)} bad line(s) skipped).",
                markup=False,
            )
        else:
            show(summary, output)
    if sent < len(tasks):
        raise typer.Exit(1)
