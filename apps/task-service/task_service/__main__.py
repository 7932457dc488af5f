"""``python -m task_service serve|migrate``: the container entry points."""

from __future__ import annotations

import argparse

import uvicorn
from taskplane_common.logging import configure_logging
from taskplane_common.migrations import upgrade

from task_service.config import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="task_service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container listens on all
    serve.add_argument("--port", type=int, default=None)
    sub.add_parser("migrate", help="apply database migrations (safe to run concurrently)")
    args = parser.parse_args()

    settings = get_settings()
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "migrate":
        if settings.database_url is None:
            parser.error("DATABASE_URL is not set")
        upgrade("task_service", settings.database_url.get_secret_value())
        return
    uvicorn.run(
        "task_service.main:build_app",
        factory=True,
        host=args.host,
        port=args.port or settings.port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )


if __name__ == "__main__":
    main()
