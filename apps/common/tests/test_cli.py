"""``python -m <service> serve``: every service runs uvicorn on uvloop and httptools (and
the WebSocket protocol of ``taskplane_common.websocket_protocol``), and freezes its
start-up objects out of the garbage collector's way."""

from __future__ import annotations

import sys
from importlib.util import find_spec
from typing import Any

import pytest
import uvicorn

from taskplane_common.app import ServerProcess
from taskplane_common.cli import run_service_cli
from taskplane_common.settings import ServiceSettings
from taskplane_common.websocket_protocol import DenialCompletingWebSocketsProtocol


def test_serve_names_uvloop_and_httptools_and_skips_access_line_formatting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(options, app=app))
    monkeypatch.setattr(sys, "argv", ["demo_service", "serve", "--port", "8123"])
    monkeypatch.setattr(ServerProcess, "freeze_after_startup", False)
    run_service_cli(
        "demo_service", lambda: ServiceSettings(service_name="demo"), port_of=lambda: 8000
    )
    assert started["app"] == "demo_service.main:build_app"
    assert started["factory"] is True
    assert started["port"] == 8123
    # Named, so that a missing uvloop or httptools fails the start.
    assert (started["loop"], started["http"]) == ("uvloop", "httptools")
    assert started["access_log"] is False
    # uvicorn's default WebSocket protocol, with its denial fix (websocket_protocol).
    assert started["ws"] is DenialCompletingWebSocketsProtocol
    assert ServerProcess.freeze_after_startup
    assert find_spec("uvloop") is not None
    assert find_spec("httptools") is not None
