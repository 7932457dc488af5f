"""JSON response bodies through orjson: serialised once, in C.

orjson writes UUIDs and datetimes itself (UTC as ``Z``, the way pydantic's JSON mode
writes it, so bodies read the same as the response models'), so a route can hand it rows
as they come from the database without building and dumping a model first. Integers past
64 bits, which a JSON payload may hold and orjson refuses, go through pydantic-core's
encoder instead (same output, arbitrary precision).
"""

from __future__ import annotations

from typing import Any

import orjson
import pydantic_core
from starlette.responses import JSONResponse


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
