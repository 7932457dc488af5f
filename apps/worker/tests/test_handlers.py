"""Handler specs resolve to the right behaviour; bad specs are refused up front."""

from __future__ import annotations

import pytest

from taskplane_worker.cli import parse_args
from taskplane_worker.handlers import HandlerError, TaskInfo, resolve


def info(**payload: object) -> TaskInfo:
    return TaskInfo(
        id="t", queue="q", attempt=1, max_attempts=3, payload=dict(payload), timeout_s=None
    )


async def test_builtins() -> None:
    assert await resolve("builtin:noop")(info(a=1)) is None
    assert await resolve("builtin:echo")(info(a=1)) == {"a": 1}
    assert await resolve("builtin:sleep")(info(seconds=0.01)) == {"slept": 0.01}
    with pytest.raises(HandlerError) as failure:
        await resolve("builtin:fail")(info(error="nope", retryable=False))
    assert str(failure.value) == "nope"
    assert failure.value.retryable is False


async def test_python_handlers_sync_and_async(tmp_path: pytest.TempPathFactory) -> None:
    assert await resolve("python:json:dumps")(info(a=1)) == '{"a": 1}'
    assert await resolve("python:taskplane_testing.worker_handlers:dispatch")(
        info(op="echo", x=2)
    ) == {"op": "echo", "x": 2}


@pytest.mark.parametrize(
    "spec", ["builtin:nope", "ftp://x", "python:json", "python:json:nothing", "noscheme"]
)
def test_bad_specs(spec: str) -> None:
    with pytest.raises((ValueError, AttributeError)):
        resolve(spec)


def test_command_line_contract() -> None:
    args = parse_args(["--queue", "default", "--handler", "builtin:echo", "--concurrency", "3"])
    assert (args.queue, args.handler, args.concurrency, args.metrics_port) == (
        "default",
        "builtin:echo",
        3,
        9100,
    )
    with pytest.raises(SystemExit):
        parse_args(["--queue", "q", "--handler", "builtin:echo", "--concurrency", "0"])
