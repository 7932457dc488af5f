"""A lease stream whose service accepts the WebSocket and then never answers (a real
``websockets`` server): every pending call fails with ConnectionFailedError once the
answer timeout has passed, the stream is closed, and closing it does not hang."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
from websockets.asyncio.server import ServerConnection, serve

from taskplane_client import ConnectionFailedError
from taskplane_client.stream import LeaseStream

#: What the test allows for anything to happen: far above the answer timeout.
BOUND_S = 60


async def _never_answer(connection: ServerConnection) -> None:
    """Read every message and answer none (pings are still answered, by the library)."""
    async for _ in connection:
        pass


async def test_an_unanswered_call_ends_the_stream() -> None:
    async with serve(_never_answer, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/api/v1/queues/q/lease-stream?worker_id=w"
        stream = await LeaseStream.open(url, {}, user_agent="test", answer_timeout_s=0.5)
        woken = asyncio.Event()
        stream.on_arrival = woken.set
        calls = [stream.heartbeat_many([uuid.uuid4()]), stream.release([uuid.uuid4()])]
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), BOUND_S)
        # Both fail, with the reason of the first to time out.
        for outcome in outcomes:
            assert isinstance(outcome, ConnectionFailedError), outcome
            assert re.search(r"no answer to '(heartbeat|release)' within 0.5s", str(outcome))
        assert stream.closed
        await asyncio.wait_for(woken.wait(), BOUND_S)  # the worker is told to look
        with pytest.raises(ConnectionFailedError):
            await stream.want(1)
        await asyncio.wait_for(stream.aclose(), BOUND_S)
