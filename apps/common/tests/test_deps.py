"""``page_request``: a list route's ``limit`` and ``cursor``, as every paged list reads them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query

from taskplane_common.deps import PageRequest, page_request
from taskplane_testing.http import asgi_client

#: A list whose cursors are a few lower-case letters.
PageDep = Annotated[PageRequest, Depends(page_request(Query(pattern="^[a-z]+$", max_length=8)))]


def _app() -> FastAPI:
    app = FastAPI()
    app.state.settings = SimpleNamespace(default_page_size=5, max_page_size=10)

    @app.get("/items")
    async def items(page: PageDep) -> dict[str, Any]:
        return {"size": page.size, "cursor": page.cursor}

    return app


async def test_the_page_size_is_the_default_or_the_limit_capped_by_the_settings() -> None:
    async with asgi_client(_app()) as client:
        assert (await client.get("/items")).json() == {"size": 5, "cursor": None}
        assert (await client.get("/items?limit=7")).json() == {"size": 7, "cursor": None}
        assert (await client.get("/items?limit=500")).json() == {"size": 10, "cursor": None}
        assert (await client.get("/items?limit=0")).status_code == 422


async def test_the_cursor_is_checked_as_the_list_declares_it() -> None:
    async with asgi_client(_app()) as client:
        assert (await client.get("/items?cursor=abc")).json() == {"size": 5, "cursor": "abc"}
        assert (await client.get("/items?cursor=ABC")).status_code == 422
        assert (await client.get("/items?cursor=abcdefghi")).status_code == 422


def test_the_document_lists_limit_then_the_lists_own_cursor() -> None:
    parameters = _app().openapi()["paths"]["/items"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == ["limit", "cursor"]
    cursor = parameters[1]["schema"]["anyOf"][0]
    assert cursor["pattern"] == "^[a-z]+$"
    assert cursor["maxLength"] == 8
