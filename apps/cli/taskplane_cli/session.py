"""The state every command shares: the chosen context, its URLs, its login and a client
built from them; and the one place where errors become a line on stderr and an exit code."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import typer
from typer._click.core import Context as ClickContext
from typer.core import TyperGroup

from taskplane_cli.config import ConfigFile, Credentials, Login
from taskplane_cli.output import Output, errors
from taskplane_client import (
    ApiError,
    ConnectionFailedError,
    LoginExpiredError,
    RetryPolicy,
    SessionAuth,
    TaskplaneClient,
    TaskplaneError,
    TokenExchangeError,
    TokenPair,
    UnauthorizedError,
    auth_for,
)

#: Quick retries: a person is waiting, and the message says what to do.
CLI_RETRY = RetryPolicy(attempts=3, deadline_s=10, backoff_base_s=0.3)


@dataclass
class Session:
    context: str
    api_url: str
    auth_url: str
    output: Output
    #: A token from TASKPLANE_TOKEN: used instead of the stored login.
    env_token: str | None = None

    @property
    def credentials(self) -> Credentials:
        return Credentials()

    def login(self) -> Login | None:
        return self.credentials.get(self.context)

    def client(self, *, authenticated: bool = True) -> TaskplaneClient:
        """A client for this context, logged in unless ``authenticated`` is False."""
        auth = None
        if authenticated:
            auth = self._auth()
        return TaskplaneClient(
            self.api_url,
            auth_url=self.auth_url,
            auth=auth,
            retry=CLI_RETRY,
            user_agent="taskplane-cli",
        )

    def _auth(self) -> Any:
        if self.env_token:
            return auth_for(self.env_token, self.auth_url)
        login = self.login()
        if login is None:
            fail("not logged in; run `taskplane login` first (or set TASKPLANE_TOKEN)")
        pair = login.pair()
        if pair is None:
            return auth_for(login.access_token, self.auth_url)

        def store(tokens: TokenPair, expires_at: float) -> None:
            self.credentials.put(
                self.context,
                Login(
                    access_token=tokens.access_token,
                    refresh_token=tokens.refresh_token,
                    expires_at=expires_at,
                    email=login.email,
                ),
            )

        return SessionAuth(pair, self.auth_url, expires_at=login.expires_at, on_refresh=store)

    def service_of(self, url: str) -> str:
        return "auth-service" if url.rstrip("/") == self.auth_url.rstrip("/") else "task-service"


def resolve(
    context: str | None, api_url: str | None, auth_url: str | None, output: Output | None
) -> Session:
    """Flags first (or the environment variables the root's options fall back on), then
    the context, then the defaults."""
    config = ConfigFile.load()
    name = context or config.current
    chosen = config.context(name)
    urls = {
        "--api-url / TASKPLANE_API_URL": api_url or chosen.api_url,
        "--auth-url / TASKPLANE_AUTH_URL": auth_url or chosen.auth_url,
    }
    for source, url in urls.items():
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{source} must be an http:// or https:// URL, not {url!r}")
    return Session(
        context=name,
        api_url=urls["--api-url / TASKPLANE_API_URL"],
        auth_url=urls["--auth-url / TASKPLANE_AUTH_URL"],
        output=output or Output(os.environ.get("TASKPLANE_OUTPUT") or "table"),
        env_token=os.environ.get("TASKPLANE_TOKEN") or None,
    )


def session(ctx: typer.Context, output: Output | None = None) -> Session:
    """The session of the running command; a command's own ``-o`` wins over the global one."""
    current: Session = ctx.find_object(Session)  # type: ignore[assignment]
    if output is not None:
        current.output = output
    return current


def fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"taskplane: {message}", markup=False)
    raise typer.Exit(code)


def explain(exc: TaskplaneError, current: Session | None) -> str:
    """One line that says what went wrong and what to do about it."""
    if isinstance(exc, ConnectionFailedError):
        service = current.service_of(exc.url) if current else "server"
        flag = (
            "--auth-url / TASKPLANE_AUTH_URL"
            if service == "auth-service"
            else ("--api-url / TASKPLANE_API_URL")
        )
        return (
            f"cannot reach the {service} at {exc.url} ({exc.cause.__class__.__name__}). "
            f"Is it running? `make run` starts the platform locally; or point {flag} at it."
        )
    if isinstance(exc, LoginExpiredError):
        return "your login has expired; log in again with `taskplane login`"
    if isinstance(exc, UnauthorizedError):
        return f"{exc.detail} (HTTP 401); log in again with `taskplane login`"
    if isinstance(exc, TokenExchangeError):
        return f"{exc}; check TASKPLANE_TOKEN"
    if isinstance(exc, ApiError):
        # The problems the detail does not already say, with where each one is.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', [])[1:]) or 'body'}: {item.get('msg')}"
            for item in exc.errors[:5]
            if str(item.get("msg")) not in exc.detail
        )
        return f"{exc.detail} (HTTP {exc.status})" + (f": {problems}" if problems else "")
    return str(exc)


class CliGroup(TyperGroup):
    """Turns the client's errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except TaskplaneError as exc:
            fail(explain(exc, ctx.find_object(Session)))
        except ValueError as exc:  # a value the client refused before sending (bad id...)
            fail(str(exc), code=2)


def each_line(path: str) -> list[str]:
    """Lines of ``path`` (``-`` reads stdin)."""
    if path == "-":
        return sys.stdin.read().splitlines()
    with open(path, encoding="utf-8") as source:
        return source.read().splitlines()
