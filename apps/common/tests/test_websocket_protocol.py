"""The WebSocket protocol the services run (``DenialCompletingWebSocketsProtocol``): a
handshake refused with a denial response is answered and logs nothing at ERROR, where
uvicorn's own ``websockets-sansio`` protocol still logs one (the day it stops, uvicorn
has the fix and the subclass can go)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

import pytest
import uvicorn
from fastapi import FastAPI, WebSocket
from fastapi.responses import JSONResponse
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from taskplane_common.websocket_protocol import DenialCompletingWebSocketsProtocol
from taskplane_testing.waiting import eventually

INCOMPLETE = "ASGI callable returned without completing handshake."
#: What the test allows for anything to happen.
BOUND_S = 60


async def _refused_status(protocol: type[asyncio.Protocol]) -> int:
    """The status a client gets from a uvicorn server on ``protocol`` refusing it, once
    the server has judged how its application ended."""
    app = FastAPI()
    returned = asyncio.Event()

    @app.websocket("/ws")
    async def refuse(websocket: WebSocket) -> None:
        """Refused as the lease stream refuses an unknown queue."""
        await websocket.send_denial_response(JSONResponse({"status": 404}, status_code=404))
        # uvicorn judges the handshake as soon as this returns, in the same step of the
        # loop: by the time the test sees the event, whatever it logs is logged.
        returned.set()

    # Logging left alone (no ``log_config``), so that uvicorn's records reach caplog.
    server = uvicorn.Server(uvicorn.Config(app, ws=protocol, lifespan="off", log_config=None))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await eventually(_started(server), within=BOUND_S, interval=0.01)
            url = f"ws://127.0.0.1:{sock.getsockname()[1]}/ws"
            with pytest.raises(InvalidStatus) as refused:
                await connect(url, open_timeout=BOUND_S)
            await asyncio.wait_for(returned.wait(), BOUND_S)
        finally:
            server.should_exit = True
            await serving
    return refused.value.response.status_code


def _started(server: uvicorn.Server) -> Callable[[], Awaitable[bool]]:
    async def started() -> bool:
        return server.started

    return started


@pytest.mark.parametrize(
    ("protocol", "logs_error"),
    [(DenialCompletingWebSocketsProtocol, False), (WebSocketsSansIOProtocol, True)],
)
async def test_a_denied_handshake_is_answered_and_logs_no_error(
    protocol: type[asyncio.Protocol], logs_error: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    assert await _refused_status(protocol) == 404
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    if logs_error:
        # uvicorn without https://github.com/Kludex/uvicorn/pull/3138: once this fails,
        # delete taskplane_common.websocket_protocol and serve with uvicorn's default.
        assert errors == [INCOMPLETE]
    else:
        assert errors == []
