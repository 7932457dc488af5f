"""The committed OpenAPI documents of the four services, written from the code.

``python -m scripts.openapi`` (or ``make openapi``) rewrites
``docs/api/<service>.openapi.json``; ``--check`` only says which are stale (exit 1).
A test fails when a committed document differs from what the running code serves, so a
change of contract shows in review, and clients generated from these files (the web
console's TypeScript types) follow the code.

The apps are built with placeholder settings: building one connects to nothing, and no
setting changes the document.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

API_DIR = Path(__file__).resolve().parents[1] / "docs" / "api"
#: Building an app opens no connection; this URL is never dialled.
_PLACEHOLDER_DB = "postgresql://taskplane@127.0.0.1:1/openapi"


def _auth() -> FastAPI:
    from auth_service.config import Settings
    from auth_service.main import build_app

    return build_app(Settings(DATABASE_URL=_PLACEHOLDER_DB))


def _user() -> FastAPI:
    from user_service.config import Settings
    from user_service.main import build_app

    return build_app(Settings(DATABASE_URL=_PLACEHOLDER_DB, auth_disabled=True))


def _task() -> FastAPI:
    from task_service.config import Settings
    from task_service.main import build_app

    return build_app(Settings(DATABASE_URL=_PLACEHOLDER_DB, auth_disabled=True))


def _notification() -> FastAPI:
    from notification_service.config import Settings
    from notification_service.main import build_app

    return build_app(
        Settings(DATABASE_URL=_PLACEHOLDER_DB, auth_disabled=True, background_enabled=False)
    )


SERVICES: dict[str, Callable[[], FastAPI]] = {
    "auth-service": _auth,
    "user-service": _user,
    "task-service": _task,
    "notification-service": _notification,
}


def render(document: dict[str, Any]) -> str:
    """The committed form: sorted keys, two-space indent, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def path_of(service: str) -> Path:
    return API_DIR / f"{service}.openapi.json"


def generated() -> dict[Path, str]:
    """Every service's document as it should be committed."""
    return {path_of(name): render(build().openapi()) for name, build in SERVICES.items()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.openapi",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; list stale documents (exit 1)"
    )
    check = parser.parse_args(argv).check
    stale = []
    for path, text in generated().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    verb = "stale" if check else "written"
    for path in stale:
        print(f"{verb}: {path.relative_to(API_DIR.parents[1])}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
