"""The services' command lines fail in one line: a bad setting, a missing ``DATABASE_URL``
or a database that cannot be reached is something the person starting the process must
fix, and a traceback hides which setting that is."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import psycopg
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, DBAPIError

from taskplane_client.commandline import UNREACHABLE, exit_with, program_name, settings_problems
from taskplane_common.errors import is_database_unavailable
from taskplane_common.settings import ServiceSettings

P = ParamSpec("P")
R = TypeVar("R")

#: SQLSTATE classes of a database that cannot be used at all: connection exceptions,
#: bad credentials, a database that does not exist, a server starting or shutting down.
_CONNECT_SQLSTATES = ("08", "28", "3D000", "57P03")
#: A table or schema missing: the database answers, but is not migrated (yet).
_NO_SCHEMA_SQLSTATES = frozenset({"42P01", "3F000"})


NO_DATABASE_URL = (
    "DATABASE_URL is not set: point it at the service's PostgreSQL database "
    "(postgresql://user:password@host:5432/name)"
)


class ConfigurationError(ValueError):
    """A setting is missing or unusable; the message names the variable to set."""


def connection_problem(exc: BaseException) -> str | None:
    """One line for a database that cannot be connected to, else None (a failing
    statement is a bug or a data problem, and keeps its traceback)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(orig, psycopg.Error):
        return None
    state = orig.sqlstate
    if state is None and type(orig) is not psycopg.OperationalError:
        return None
    if state is not None and not state.startswith(_CONNECT_SQLSTATES):
        return None
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return f"cannot use the database: {first} (check DATABASE_URL and that PostgreSQL is running)"


def database_problem(exc: BaseException, migrate: str = "the service's `migrate`") -> str | None:
    """One line for a database the service cannot use yet: unreachable, or answering
    without the service's schema (with a hint that ``migrate`` runs); None for anything
    else (a failing statement is a bug or a data problem, and keeps its traceback)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if getattr(orig, "sqlstate", None) in _NO_SCHEMA_SQLSTATES:
        first = str(orig).strip().splitlines()[0]
        return f"the schema is missing: {first} (has {migrate} run?)"
    problem = connection_problem(exc)
    if problem is None and is_database_unavailable(exc):
        problem = f"database unavailable ({type(exc).__name__})"
    return problem


@contextmanager
def reported(prog: str) -> Iterator[None]:
    """Turn the errors a person starting ``prog`` must fix into one line and an exit
    status (2 for settings, 1 for an unreachable database); anything else propagates."""
    try:
        yield
    except ValidationError as exc:
        exit_with(prog, f"invalid settings: {settings_problems(exc, ServiceSettings)}")
    except ConfigurationError as exc:
        exit_with(prog, str(exc))
    except ArgumentError as exc:  # a DATABASE_URL SQLAlchemy cannot parse
        exit_with(prog, f"DATABASE_URL: {exc}")
    except (DBAPIError, psycopg.Error) as exc:
        problem = connection_problem(exc)
        if problem is None:
            raise
        exit_with(prog, problem, UNREACHABLE)


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """``command`` run under :func:`reported`, named as the user invoked it."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with reported(program_name()):
            return command(*args, **kwargs)

    return wrapper
