"""JSON response bodies through orjson: serialised once, in C.

orjson writes UUIDs and datetimes itself (UTC as ``Z``, the way pydantic's JSON mode
writes it, so bodies read the same as the response models'), so a route can hand it rows
as they come from the database without building and dumping a model first. Integers past
64 bits, which a JSON payload may hold and orjson refuses, go through pydantic-core's
encoder instead (same output, arbitrary precision).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

import orjson
import pydantic_core
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from taskplane_common.db import Database, Driver

P = ParamSpec("P")


def dumps(content: Any) -> bytes:
    try:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError:
        return pydantic_core.to_json(content)


class FastJSONResponse(JSONResponse):
    """A JSON response serialised by :func:`dumps`; ``bytes`` content is taken as a body
    serialised already (a body also stored elsewhere is serialised once)."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else dumps(content)


class _Prepared(Response):
    """A response whose body and header lines were encoded beforehand: constructing it
    is two attribute copies (no header encoding, no length to format)."""

    def __init__(self, status_code: int, body: bytes, raw_headers: Sequence[tuple[bytes, bytes]]):
        self.status_code = status_code
        self.body = body
        self.background = None
        self.raw_headers = list(raw_headers)


@dataclass(frozen=True)
class CachedBody:
    """A JSON document served often and changed rarely (the JWKS): encoded once, with a
    strong ETag of its bytes, answered 304 to a client that holds the same bytes."""

    body: bytes
    etag: bytes
    #: The 200's header lines (content type and length, ETag, ``Cache-Control``).
    headers: tuple[tuple[bytes, bytes], ...]
    #: The 304's: the validators only (RFC 9110 15.4.5).
    not_modified_headers: tuple[tuple[bytes, bytes], ...]

    @classmethod
    def of(cls, content: Any, cache_control: str) -> CachedBody:
        body = dumps(content)
        etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
        validators = ((b"etag", etag), (b"cache-control", cache_control.encode("latin-1")))
        headers = (
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *validators,
        )
        return cls(body, etag, headers, validators)

    def response(self, if_none_match: str | None) -> Response:
        """200 with the body, or 304 when ``If-None-Match`` names this ETag (weak
        comparison, ``*`` included, as RFC 9110 13.1.2 has it for GET)."""
        if if_none_match is not None and self._matches(if_none_match):
            return _Prepared(304, b"", self.not_modified_headers)
        return _Prepared(200, self.body, self.headers)

    def _matches(self, if_none_match: str) -> bool:
        etag = self.etag.decode()
        for candidate in if_none_match.split(","):
            tag = candidate.strip()
            if tag == "*" or tag.removeprefix("W/") == etag:
                return True
        return False


async def read_as_json(
    database: Database,
    read: Callable[Concatenate[Driver, P], Awaitable[Any]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> JSONResponse:
    """The answer of one read on a driver connection: its rows as they come, serialised
    once (no session, no model built and dumped again)."""
    async with database.driver() as db:
        return FastJSONResponse(await read(db, *args, **kwargs))
