"""The WebSocket protocol every service serves: uvicorn's default (``websockets-sansio``,
what ``ws="auto"`` picks) with one upstream fix applied.

Delete this module (and ``ws=`` in ``taskplane_common.cli``) once uvicorn ships
https://github.com/Kludex/uvicorn/pull/3138 ("Mark the handshake complete after a
websocket denial response (websockets-sansio)"): ``test_websocket_protocol.py`` in
``apps/common/tests`` fails on the uvicorn release that makes it unnecessary.
"""

from __future__ import annotations

from typing import Any

from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class DenialCompletingWebSocketsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol that counts a handshake answered with a
    denial response (``websocket.http.response.*``, Starlette's ``send_denial_response``)
    as complete, as its wsproto protocol already does.

    Without it every refused handshake (the lease stream's 401/403/404/422/503) also logs
    ``ERROR: ASGI callable returned without completing handshake.`` although the client
    got its answer. The upstream fix sets the flag in ``send``; here it is set when the
    application returns, the only moment uvicorn reads it for this, so the messages of
    an accepted stream (the queue engine's hot path) pass through uvicorn's ``send``
    untouched. Kept over ``ws="wsproto"``: it is the implementation uvicorn picks by
    default.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._application = self.app
        self.app = self._run_application

    async def _run_application(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        await self._application(scope, receive, send)
        if self.initial_response is not None and self.close_sent:
            # The denial response is on the wire (uvicorn sets ``close_sent`` once its
            # last body part is written): the handshake was answered.
            self.handshake_complete = True
