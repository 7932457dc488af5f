"""``python -m <service> serve|migrate``: one command line for every service container."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import uvicorn

from taskplane_common.app import ServerProcess
from taskplane_common.commandline import NO_DATABASE_URL, ConfigurationError, one_line_errors
from taskplane_common.logging import configure_logging
from taskplane_common.migrations import upgrade
from taskplane_common.settings import ServiceSettings
from taskplane_common.websocket_protocol import DenialCompletingWebSocketsProtocol


@one_line_errors
def run_service_cli(
    package: str, get_settings: Callable[[], ServiceSettings], *, port_of: Callable[[], int]
) -> None:
    """Parse ``serve [--host --port]`` or ``migrate`` and run it for ``package``.

    ``serve`` builds the app with ``<package>.main:build_app`` so settings are read
    inside the server process, exactly as in a container.
    """
    parser = argparse.ArgumentParser(
        prog=package, description=f"{package}: serve its HTTP API, or migrate its database."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container listens on all
    serve.add_argument("--port", type=int, default=None)
    sub.add_parser("migrate", help="apply database migrations (safe to run concurrently)")
    args = parser.parse_args()

    settings = get_settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    if args.command == "migrate":
        if settings.database_url is None:
            raise ConfigurationError(NO_DATABASE_URL)
        upgrade(package, settings.database_url.get_secret_value())
        return
    ServerProcess.freeze_after_startup = True
    uvicorn.run(
        f"{package}.main:build_app",
        factory=True,
        host=args.host,
        port=args.port or port_of(),
        log_config=None,
        # Named, not "auto": a missing uvloop or httptools fails the start instead of
        # silently running the slower pure-Python loop and parser.
        loop="uvloop",
        http="httptools",
        # What "auto" picks (websockets-sansio), less its ERROR line after every
        # refused WebSocket handshake.
        ws=DenialCompletingWebSocketsProtocol,
        proxy_headers=True,
        server_header=False,
        # The access logger stays at WARNING (``configure_logging``), where uvicorn would
        # still format each request's client address and path before the level check.
        access_log=False,
    )
