"""What every taskplane program does when it cannot start: one line on stderr, no traceback.

A person (or a pod's log) needs to read *what to fix*, named as they would set it: the
environment variable, not the pydantic field. Exit status 2 is a usage or configuration
error (as argparse and click use it), 1 something that could not be reached.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

from pydantic import AliasChoices, BaseModel, ValidationError

USAGE = 2
"""Exit status of a bad command line or a bad setting: the caller must change something."""
UNREACHABLE = 1
"""Exit status when something the program needs (an API, the database) is not there."""


def program_name() -> str:
    """What the user typed: ``auth_service`` for ``python -m auth_service``, else the script."""
    path = Path(sys.argv[0])
    return path.parent.name if path.name == "__main__.py" else path.name


def exit_with(prog: str, message: str, code: int = USAGE) -> NoReturn:
    """Print ``prog: message`` as one line on stderr and exit with ``code``."""
    print(f"{prog}: {' '.join(message.split())}", file=sys.stderr)
    raise SystemExit(code)


def env_name(settings: type[BaseModel], field: str) -> str:
    """The environment variable a pydantic-settings field is read from (its first alias,
    else the prefix and the upper-cased name)."""
    info = settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        alias = alias.choices[0]
    if isinstance(alias, str):
        return alias
    if field.isupper():  # pydantic located the error at the alias it read
        return field
    return f"{settings.model_config.get('env_prefix', '')}{field}".upper()


def settings_problems(exc: ValidationError, settings: type[BaseModel]) -> str:
    """Every problem of ``exc`` on one line, each named by its environment variable.

    The rejected value is left out: it may be a secret.
    """
    problems = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        location = error["loc"]
        if location and isinstance(location[0], str):
            message = f"{env_name(settings, location[0])}: {message}"
        problems.append(message)
    return "; ".join(problems)
