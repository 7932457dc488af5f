"""``--output table|json|yaml``: one renderer for every command's answer.

Tables show the columns a command names; JSON and YAML show everything the API returned,
so scripts get the full object.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


class Output(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


Column = tuple[str, Callable[[Any], Any]]


def plain(value: Any) -> Any:
    """JSON-ready data of a model, a list of models or anything else."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _attribute(name: str) -> Column:
    """A column showing attribute ``name`` (built here, so each lambda keeps its own)."""
    return (name.upper(), lambda item: getattr(item, name))


def fields(*names: str) -> list[Column]:
    """A column per attribute name, headed by the name in capitals."""
    return [_attribute(name) for name in names]


def show(data: Any, output: Output, columns: Sequence[Column] | None = None) -> None:
    """Print ``data`` (a model or a list of models) in the chosen format."""
    if output is Output.json:
        console.print_json(json.dumps(plain(data)))
        return
    if output is Output.yaml:
        console.print(yaml.safe_dump(plain(data), sort_keys=False).rstrip())
        return
    if isinstance(data, list):
        table = Table(box=None, pad_edge=False)
        for header, _ in columns or ():
            # Ids are copied into the next command: never cut them.
            whole = header == "ID"
            table.add_column(
                header, no_wrap=whole, min_width=36 if whole else None, overflow="fold"
            )
        for item in data:
            table.add_row(*(_cell(get(item)) for _, get in columns or ()))
        console.print(table)
        return
    details = Table(show_header=False, box=None, pad_edge=False)
    details.add_column(no_wrap=True)
    details.add_column(overflow="fold")
    for key, value in plain(data).items():
        details.add_row(f"[bold]{key}[/bold]", _cell(value))
    console.print(details)


def say(message: str, output: Output) -> None:
    """A human sentence: printed for tables, left out of JSON/YAML (to stderr instead)."""
    (console if output is Output.table else errors).print(message)
