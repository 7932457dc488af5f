"""The framework ceiling: a bare FastAPI + uvicorn app doing the services' work and no more.

The same SELECTs and INSERT as ``GET /api/v1/tasks/{id}``, the filtered list page and
``POST /api/v1/tasks`` (admin visibility, keyset order of the default sort), the
user-service's ``GET /api/v1/users/me`` statement on its database, the auth-service's
JWKS from memory (fetched once at start, as the auth-service serves it from its key
cache) and its refresh rotation (the same statement on the auth-service's tables, which
share ``DATABASE_URL`` in the sizing run, and an ES256 access token signed with a key of
its own), with the same driver (psycopg) and the same JWT check
(:class:`taskplane_common.token_verifier.JwksTokenVerifier` against the auth-service's JWKS), and
nothing else: no middleware, no response models, no ORM session, no events. ``uvicorn
bench.sizing.ceiling_app:app``; env ``DATABASE_URL`` (the task-service's database),
``USERS_DATABASE_URL`` (the user-service's) and ``TASKPLANE_JWKS_URL``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI, Header, HTTPException
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.responses import JSONResponse, Response

from auth_service.sessions import REFRESH_SQL, rotation_params
from task_service.crud import COLUMNS, GET
from taskplane_common.principals import Principal
from taskplane_common.revocations import EPOCH_CLAIM
from taskplane_common.token_verifier import (
    ALGORITHM,
    KNOWN_SCOPES,
    JwksTokenVerifier,
    scope_string,
)
from user_service.crud import ENSURE_PROFILE_SQL, ensure_profile_params

#: The task-service's own read by id (a plain task or a queue job, one statement), run
#: with an admin's visibility.
GET_SQL = GET.sql
# The SQL below is assembled from constants only.
LIST_SQL = (
    f"SELECT {COLUMNS} FROM tasks.tasks WHERE status = %s"  # noqa: S608
    " ORDER BY created_at DESC, id DESC LIMIT %s"
)
INSERT_SQL = (
    "INSERT INTO tasks.tasks (id, title, status, priority, owner_id, tags, tags_normalized,"  # noqa: S608
    " version, created_at, updated_at)"
    " VALUES (%s, %s, 'pending', 1, %s, '{}', '{}', 1, now(), now())"
    f" RETURNING {COLUMNS}"
)

#: Autocommit: each request is its one statement, no BEGIN/COMMIT round trips (the task
#: API's reads are autocommit too; its POST also writes the event row in a transaction).
pool = AsyncConnectionPool(
    os.environ.get("DATABASE_URL", ""),
    min_size=10,
    max_size=20,
    kwargs={"autocommit": True},
    open=False,
)
#: The user-service's database, when given (``GET /api/v1/users/me``).
users_pool = (
    AsyncConnectionPool(
        os.environ["USERS_DATABASE_URL"],
        min_size=1,
        max_size=20,
        kwargs={"autocommit": True},
        open=False,
    )
    if os.environ.get("USERS_DATABASE_URL")
    else None
)
#: The JWKS body, fetched once at start.
jwks_body: dict[str, bytes] = {}
verifier = JwksTokenVerifier(
    os.environ.get("TASKPLANE_JWKS_URL", ""), issuer="taskplane-auth", audience="taskplane"
)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    await pool.open()
    if users_pool is not None:
        await users_pool.open()
    async with httpx.AsyncClient() as client:
        jwks = await client.get(os.environ.get("TASKPLANE_JWKS_URL", ""), timeout=30)
    jwks_body["body"] = jwks.raise_for_status().content
    yield
    if users_pool is not None:
        await users_pool.close()
    await pool.close()
    await verifier.aclose()


app = FastAPI(lifespan=lifespan)


async def principal(authorization: Annotated[str, Header()]) -> Principal:
    return await verifier.verify(authorization.removeprefix("Bearer "))


PrincipalDep = Annotated[Principal, Depends(principal)]


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, list, type(None))) else str(v) for k, v in row.items()}


@app.get("/api/v1/tasks/{task_id}")
async def get_task(task_id: uuid.UUID, _who: PrincipalDep) -> JSONResponse:
    async with pool.connection() as connection:
        cursor = await connection.cursor(row_factory=dict_row).execute(
            GET_SQL, {"id": task_id, "admin": True, "user_id": None}
        )
        row = await cursor.fetchone()
    if row is None:
        raise HTTPException(404)
    return JSONResponse(_json(row))


@app.get("/api/v1/tasks")
async def list_tasks(_who: PrincipalDep, status: str = "pending", limit: int = 50) -> JSONResponse:
    async with pool.connection() as connection:
        cursor = await connection.cursor(row_factory=dict_row).execute(LIST_SQL, (status, limit))
        rows = await cursor.fetchall()
    return JSONResponse({"items": [_json(row) for row in rows], "next_cursor": None})


@app.get("/.well-known/jwks.json")
async def jwks() -> Response:
    return Response(jwks_body["body"], media_type="application/json")


@app.get("/api/v1/users/me")
async def me(who: PrincipalDep) -> JSONResponse:
    if users_pool is None or who.user_id is None:
        raise HTTPException(404)
    async with users_pool.connection() as connection:
        cursor = await connection.cursor(row_factory=dict_row).execute(
            ENSURE_PROFILE_SQL, ensure_profile_params(who, who.user_id)
        )
        row = await cursor.fetchone()
    assert row is not None
    return JSONResponse(_json(row))


#: The ceiling's own signing key: the same ES256 signature per access token as the
#: auth-service's.
signing_key = ec.generate_private_key(ec.SECP256R1())
ACCESS_TTL_S = 900


@app.post("/api/v1/auth/refresh")
async def refresh(body: dict[str, Any]) -> JSONResponse:
    secret, params = rotation_params(str(body.get("refresh_token", "")), timedelta(days=30))
    async with pool.connection() as connection:
        cursor = await connection.cursor(row_factory=dict_row).execute(REFRESH_SQL, params)
        row = await cursor.fetchone()
    if row is None:
        raise HTTPException(401)
    now = int(time.time())
    claims = {
        "iss": "taskplane-auth",
        "aud": "taskplane",
        "sub": str(row["id"]),
        "iat": now,
        "nbf": now,
        "exp": now + ACCESS_TTL_S,
        "jti": uuid.uuid4().hex,
        EPOCH_CLAIM: row["epoch"],
        "token_use": "user",
        "email": row["email"],
        "name": row["full_name"],
        "roles": [row["role"]],
        "scope": scope_string(KNOWN_SCOPES if row["role"] == "admin" else frozenset()),
    }
    access = jwt.encode(claims, signing_key, algorithm=ALGORITHM, headers={"kid": "ceiling"})
    return JSONResponse(
        {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": ACCESS_TTL_S,
            "refresh_token": secret,
        }
    )


@app.post("/api/v1/tasks", status_code=201)
async def create_task(body: dict[str, Any], who: PrincipalDep) -> JSONResponse:
    async with pool.connection() as connection:
        cursor = await connection.cursor(row_factory=dict_row).execute(
            INSERT_SQL, (uuid.uuid4(), str(body.get("title", "")), who.user_id)
        )
        row = await cursor.fetchone()
    assert row is not None
    return JSONResponse(_json(row), status_code=201)
