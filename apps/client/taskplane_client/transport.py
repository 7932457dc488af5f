"""What every call shares, written once for the sync and the async client.

A :class:`Call` describes one API request and how to read its answer; the clients only
send it. :class:`RetryPolicy` decides which failures are worth another attempt:

- the request never reached the server (connection refused, connect timeout): always;
- the server said so (429, 503), waiting what ``Retry-After`` asks when it is given: always;
- the connection broke after the request was sent (the server died mid-call): only for
  calls that are safe to repeat (reads, PUT, DELETE, lease actions, creates that carry
  an ``Idempotency-Key``).

Between attempts the wait doubles, plus a random jitter (tenacity), so many clients
coming back after an outage do not arrive together.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError
from tenacity import RetryCallState, stop_after_attempt, stop_after_delay, wait_exponential_jitter
from tenacity.stop import stop_base

from taskplane_client.errors import (
    ApiError,
    BadResponseError,
    ConnectionFailedError,
    RateLimitedError,
    ServiceUnavailableError,
    error_from_response,
)

log = logging.getLogger("taskplane_client")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
U = TypeVar("U")
Service = Literal["tasks", "auth"]

#: Errors raised before the request reached the server: always safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Call(Generic[T_co]):
    """One request: where it goes, what it sends, how its answer is read."""

    name: str
    method: str
    path: str
    parse: Callable[[httpx.Response], T_co]
    service: Service = "tasks"
    params: list[tuple[str, str]] = field(default_factory=list)
    json: Any = None
    data: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Safe to send again when the connection broke after sending (see the module doc).
    idempotent: bool = False
    #: A 409 means the lease is gone (LeaseLostError).
    lease_call: bool = False
    authenticated: bool = True
    #: Read timeout for long-polls (their wait plus a margin); None: the client's.
    timeout_s: float | None = None

    def reading(self, parse: Callable[[httpx.Response], U]) -> Call[U]:
        """The same request, its answer read by ``parse`` (e.g. only the part needed)."""
        call: Call[U] = dataclasses.replace(cast("Call[Any]", self), parse=parse)
        return call

    def answer(self, response: httpx.Response) -> T_co:
        """The parsed 2xx body, or the typed error of anything else."""
        if not response.is_success:
            raise error_from_response(response, lease_call=self.lease_call)
        try:
            return self.parse(response)
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise BadResponseError(
                f"{self.method} {self.path}: unexpected answer from the server: {exc}"
            ) from exc


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    """Built once per type: building a ``TypeAdapter`` costs far more than using one."""
    return TypeAdapter(kind)


def model(kind: type[BaseModel] | Any, key: str | None = None) -> Callable[[httpx.Response], Any]:
    """A parser validating the JSON body (or its member ``key``) into ``kind``."""
    adapter = _adapter(kind)
    if key is None:
        return lambda response: adapter.validate_json(response.content)
    return lambda response: adapter.validate_python(response.json()[key])


def nothing(_: httpx.Response) -> None:
    return None


def body_of(value: BaseModel, *, only_set: bool = False) -> Any:
    """JSON of a request model; ``only_set`` sends just the fields given (PATCH)."""
    return value.model_dump(mode="json", exclude_unset=only_set)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``attempts=1`` turns retries off."""

    attempts: int | None = 5
    #: Give up once this much time has passed since the first attempt (None: no bound).
    deadline_s: float | None = 60.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 10.0
    #: The longest ``Retry-After`` honoured (a longer one is cut to this).
    retry_after_max_s: float = 60.0
    #: Called before each wait with the call's name, the error and the wait in seconds.
    on_retry: Callable[[str, BaseException, float], None] | None = None

    def should_retry(self, exc: BaseException, call: Call[Any]) -> bool:
        if isinstance(exc, _NOT_SENT):
            return True
        if isinstance(exc, RateLimitedError):
            return True
        if isinstance(exc, ServiceUnavailableError):
            return exc.status == 503 or (call.idempotent and exc.status in (502, 504))
        return isinstance(exc, httpx.TransportError) and call.idempotent

    def wait(self, state: RetryCallState) -> float:
        """``Retry-After`` when the server gave one (up to ``retry_after_max_s``), else
        exponential backoff (base, 2 x base, 4 x base, ... up to ``backoff_max_s``) plus a
        random jitter of up to one base."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ApiError) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, self.retry_after_max_s)
        backoff = wait_exponential_jitter(
            multiplier=self.backoff_base_s, max=self.backoff_max_s, jitter=self.backoff_base_s
        )
        return float(backoff(state))

    def stop(self) -> stop_base:
        conditions: list[stop_base] = []
        if self.attempts is not None:
            conditions.append(stop_after_attempt(self.attempts))
        if self.deadline_s is not None:
            conditions.append(stop_after_delay(self.deadline_s))
        if not conditions:
            return stop_after_attempt(1_000_000)
        combined = conditions[0]
        for condition in conditions[1:]:
            combined = combined | condition
        return combined

    def tenacity_kwargs(self, call: Call[Any]) -> dict[str, Any]:
        """Arguments of ``Retrying``/``AsyncRetrying`` for ``call``."""

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            assert exc is not None
            log.info(
                "%s failed (%s); attempt %d, retrying in %.2fs",
                call.name,
                describe(exc),
                state.attempt_number,
                delay,
            )
            if self.on_retry is not None:
                self.on_retry(call.name, exc, delay)

        return {
            "retry": lambda state: (
                state.outcome is not None
                and state.outcome.failed
                and self.should_retry(state.outcome.exception(), call)
            ),
            "wait": self.wait,
            "stop": self.stop(),
            "before_sleep": before_sleep,
            "reraise": True,
        }


NO_RETRY = RetryPolicy(attempts=1, deadline_s=None)


def describe(exc: BaseException) -> str:
    """A short human description of an error."""
    return str(exc) or type(exc).__name__


def connection_failed(
    exc: httpx.TransportError, base_url: str, attempts: int
) -> ConnectionFailedError:
    """The final error of a call whose server could not be reached."""
    try:
        url = str(exc.request.url.copy_with(path="/", query=None)).rstrip("/")
    except RuntimeError:  # raised without its request
        url = base_url
    return ConnectionFailedError(url, exc, attempts)


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the services a client talks to."""

    api_url: str
    auth_url: str | None = None

    def url(self, call: Call[Any]) -> str:
        if call.service == "auth":
            if not self.auth_url:
                raise ValueError(f"{call.name} needs the auth service's URL (TASKPLANE_AUTH_URL)")
            return self.auth_url.rstrip("/") + call.path
        return self.api_url.rstrip("/") + call.path

    def base(self, call: Call[Any]) -> str:
        return (self.auth_url or "") if call.service == "auth" else self.api_url


def request_kwargs(
    call: Call[Any], auth: httpx.Auth | None, timeout: httpx.Timeout
) -> dict[str, Any]:
    """Keyword arguments of ``httpx.Client.request`` for ``call``."""
    kwargs: dict[str, Any] = {
        "params": call.params or None,
        "headers": call.headers or None,
        "auth": auth if call.authenticated and auth is not None else None,
        "timeout": timeout
        if call.timeout_s is None
        else httpx.Timeout(call.timeout_s, connect=timeout.connect),
    }
    if call.json is not None:
        kwargs["json"] = call.json
    if call.data is not None:
        kwargs["data"] = call.data
    return kwargs
