"""Where the CLI talks to and as whom: named contexts and stored logins.

``config.yaml`` (in ``TASKPLANE_CONFIG_DIR`` or the user's config dir) holds contexts
like kubectl's: each names a task-service URL and an auth-service URL, and one is
current. ``credentials.json`` (mode 0600) holds each context's login: the token pair of
a password login (refreshed automatically) or a pasted token.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import BaseModel, ValidationError

from taskplane_client import TokenPair

DEFAULT_CONTEXT = "local"
DEFAULT_API_URL = "http://localhost:8003"
DEFAULT_AUTH_URL = "http://localhost:8001"


class ConfigFileError(ValueError):
    """A file of the config dir that cannot be read: one line naming it (exit status 2)."""

    def __init__(self, path: Path, exc: Exception) -> None:
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        super().__init__(f"{path} is not valid ({lines[0]}); fix it or delete it")


class Context(BaseModel):
    api_url: str = DEFAULT_API_URL
    auth_url: str = DEFAULT_AUTH_URL


class Login(BaseModel):
    """A stored login: a refreshable pair, or a pasted token (no refresh token)."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    email: str | None = None

    def pair(self) -> TokenPair | None:
        if self.refresh_token is None:
            return None
        remaining = int((self.expires_at or 0) - time.time())
        return TokenPair(
            access_token=self.access_token,
            refresh_token=self.refresh_token,
            expires_in=max(0, remaining),
        )


def config_dir() -> Path:
    return Path(os.environ.get("TASKPLANE_CONFIG_DIR") or typer.get_app_dir("taskplane"))


@dataclass
class ConfigFile:
    """``config.yaml``: contexts and the current one."""

    path: Path
    contexts: dict[str, Context]
    current: str

    @classmethod
    def load(cls) -> ConfigFile:
        path = config_dir() / "config.yaml"
        raw: dict[str, Any] = {}
        try:
            if path.exists():
                raw = yaml.safe_load(path.read_text()) or {}
            contexts = {
                name: Context.model_validate(values or {})
                for name, values in (raw.get("contexts") or {}).items()
            }
        except (yaml.YAMLError, ValidationError, AttributeError, TypeError) as exc:
            raise ConfigFileError(path, exc) from exc
        return cls(path, contexts, str(raw.get("current-context") or DEFAULT_CONTEXT))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "current-context": self.current,
            "contexts": {name: ctx.model_dump() for name, ctx in self.contexts.items()},
        }
        self.path.write_text(yaml.safe_dump(body, sort_keys=True))

    def context(self, name: str) -> Context:
        return self.contexts.get(name, Context())


class Credentials:
    """``credentials.json``, readable by the user only."""

    def __init__(self) -> None:
        self.path = config_dir() / "credentials.json"

    def _all(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            loaded = json.loads(self.path.read_text() or "{}")
        except ValueError as exc:
            raise ConfigFileError(self.path, exc) from exc
        if not isinstance(loaded, dict):
            raise ConfigFileError(self.path, TypeError("not a JSON object"))
        return loaded

    def get(self, context: str) -> Login | None:
        stored = self._all().get(context)
        try:
            return Login.model_validate(stored) if stored else None
        except ValidationError as exc:
            raise ConfigFileError(self.path, exc) from exc

    def put(self, context: str, login: Login | None) -> None:
        everything = self._all()
        if login is None:
            everything.pop(context, None)
        else:
            everything[context] = login.model_dump()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 before anything is written into it.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(everything, out, indent=2)
        self.path.chmod(0o600)
