"""The console ASGI application: sign-in, the same-origin API proxy and the built SPA.

The browser never sees a token. ``POST /session`` logs in against the auth-service and
answers with an opaque ``HttpOnly; Secure; SameSite=Strict`` cookie; every ``/api/v1/...``
call is forwarded to the service that owns the path with the session's access token
(renewed with the refresh token when it is about to expire); ``DELETE /session`` revokes
the refresh token. Unsafe methods need the session's CSRF token in ``X-CSRF-Token`` and,
when the browser sends one, a same-origin ``Origin``.
"""

from __future__ import annotations

import logging
import mimetypes
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from console_service import __version__
from console_service.config import Settings, get_settings
from console_service.sessions import (
    COOKIE_NAME,
    CSRF_HEADER,
    Session,
    SessionStore,
    renew_deadline,
)
from taskplane_common.app import create_app
from taskplane_common.errors import ProblemError
from taskplane_common.principals import TokenVerifier

log = logging.getLogger(__name__)

#: No inline script or style, nothing from another origin, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: Which service owns an API path prefix (the auth-service's own /auth routes are never
#: forwarded: signing in and out is this service's job).
ROUTES = {
    "tasks": "task_service_url",
    "queues": "task_service_url",
    "events": "task_service_url",
    "users": "user_service_url",
    "webhooks": "notification_service_url",
    "notifications": "notification_service_url",
    "admin": "auth_url",
}
FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "if-match", "if-none-match", "traceparent")
FORWARDED_RESPONSE_HEADERS = ("content-type", "etag", "link", "location", "retry-after")
#: The event feed long-polls at most this long per forwarded call.
MAX_FEED_WAIT_S = 25.0


class Login(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    """What the SPA may know about its session: who, what it may do, the CSRF token."""

    user_id: str | None
    email: str | None
    name: str | None
    roles: list[str]
    is_admin: bool
    can_write: bool
    csrf_token: str
    jaeger_url: str | None


class SecurityHeaders(BaseHTTPMiddleware):
    """The strict CSP and friends on every response, API and assets alike."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def _http(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.http
    return client


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[SessionStore, Depends(_store)]
HttpDep = Annotated[httpx.AsyncClient, Depends(_http)]


def check_origin(request: Request) -> None:
    """403 for a cross-site unsafe request (a browser always sends Origin on those)."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    expected = f"{request.url.scheme}://{request.url.netloc}"
    forwarded = request.headers.get("x-forwarded-host")
    allowed = {expected} | ({f"https://{forwarded}", f"http://{forwarded}"} if forwarded else set())
    if origin not in allowed:
        raise ProblemError(403, "cross-origin request refused", slug="csrf")


async def current_session(request: Request, store: StoreDep) -> Session:
    """The signed-in session; unsafe methods also need its CSRF token."""
    session = store.get(request.cookies.get(COOKIE_NAME))
    if session is None:
        raise ProblemError(401, "sign in first", slug="unauthenticated")
    if request.method in UNSAFE_METHODS:
        check_origin(request)
        if request.headers.get(CSRF_HEADER) != session.csrf:
            raise ProblemError(403, "missing or wrong X-CSRF-Token header", slug="csrf")
    return session


SessionDep = Annotated[Session, Depends(current_session)]


def _session_out(session: Session, settings: Settings) -> SessionOut:
    principal = session.principal
    return SessionOut(
        user_id=str(principal.user_id) if principal.user_id else None,
        email=principal.email,
        name=principal.name,
        roles=sorted(principal.roles),
        is_admin=principal.is_admin,
        can_write=principal.can_write,
        csrf_token=session.csrf,
        jaeger_url=settings.jaeger_url,
    )


def _auth_failure(response: httpx.Response) -> ProblemError:
    if response.status_code in (400, 401, 422):
        return ProblemError(401, "wrong email or password", slug="bad-credentials")
    if response.status_code == 429:
        retry = response.headers.get("retry-after", "60")
        return ProblemError(
            429, "too many attempts", slug="rate-limited", headers={"Retry-After": retry}
        )
    return ProblemError(502, "the auth-service did not answer", slug="upstream-unavailable")


router = APIRouter(tags=["console"])


@router.post("/session", response_model=SessionOut, summary="Sign in (sets the session cookie)")
async def login(
    body: Login,
    request: Request,
    response: Response,
    settings: SettingsDep,
    store: StoreDep,
    http: HttpDep,
) -> SessionOut:
    check_origin(request)
    if not request.headers.get(CSRF_HEADER):
        raise ProblemError(403, "missing X-CSRF-Token header", slug="csrf")
    try:
        answer = await http.post(
            f"{settings.auth_url}/api/v1/auth/token",
            data={"username": body.email, "password": body.password},
        )
    except httpx.HTTPError as exc:
        raise ProblemError(502, "the auth-service did not answer", slug="upstream") from exc
    if answer.status_code != 200:
        raise _auth_failure(answer)
    pair = answer.json()
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(pair["access_token"])
    session = store.create(
        pair["refresh_token"], pair["access_token"], float(pair["expires_in"]), principal
    )
    response.set_cookie(
        COOKIE_NAME,
        session.id,
        httponly=True,
        secure=True,
        samesite="strict",
        path="/",
        max_age=settings.session_idle_s,
    )
    response.headers["Cache-Control"] = "no-store"
    log.info("console sign-in", extra={"user_id": str(principal.user_id)})
    return _session_out(session, settings)


@router.get("/session", response_model=SessionOut, summary="The current session")
async def whoami(session: SessionDep, settings: SettingsDep, response: Response) -> SessionOut:
    response.headers["Cache-Control"] = "no-store"
    return _session_out(session, settings)


@router.delete("/session", status_code=204, summary="Sign out (revokes the refresh token)")
async def logout(
    session: SessionDep, settings: SettingsDep, store: StoreDep, http: HttpDep
) -> Response:
    store.drop(session.id)
    async with session.lock:
        try:
            await http.post(
                f"{settings.auth_url}/api/v1/auth/logout",
                json={"refresh_token": session.refresh_token},
            )
        except httpx.HTTPError:
            log.warning("logout could not reach the auth-service; the session is dropped")
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="strict")
    return response


async def access_token(session: Session, settings: Settings, store: StoreDep, http: HttpDep) -> str:
    """The session's access token, renewed first when it is about to expire."""
    async with session.lock:
        if time.monotonic() < session.renew_at:
            return session.access_token
        answer = await http.post(
            f"{settings.auth_url}/api/v1/auth/refresh",
            json={"refresh_token": session.refresh_token},
        )
        if answer.status_code != 200:
            store.drop(session.id)
            raise ProblemError(401, "the session ended; sign in again", slug="unauthenticated")
        pair = answer.json()
        session.refresh_token = pair["refresh_token"]
        session.access_token = pair["access_token"]
        session.renew_at = renew_deadline(float(pair["expires_in"]))
        return session.access_token


@router.api_route(
    "/api/v1/{area}/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
@router.api_route(
    "/api/v1/{area}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def forward(
    area: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    http: HttpDep,
) -> Response:
    """Forward one API call, as the session's user, to the service that owns it."""
    setting = ROUTES.get(area)
    if setting is None:
        raise ProblemError(404, f"no API area {area!r}", slug="not-found")
    token = await access_token(session, settings, store, http)
    headers = {
        name: value
        for name in FORWARDED_REQUEST_HEADERS
        if (value := request.headers.get(name)) is not None
    }
    headers["authorization"] = f"Bearer {token}"
    timeout = settings.upstream_timeout_s
    if area == "events":
        timeout += min(float(request.query_params.get("wait_s", "0") or 0), MAX_FEED_WAIT_S)
    try:
        answer = await http.request(
            request.method,
            f"{getattr(settings, setting)}{request.url.path}",
            params=list(request.query_params.multi_items()),
            content=await request.body(),
            headers=headers,
            timeout=timeout,
        )
    except (httpx.HTTPError, ValueError) as exc:
        raise ProblemError(502, f"the {area} API did not answer", slug="upstream") from exc
    out = {
        name: value
        for name in FORWARDED_RESPONSE_HEADERS
        if (value := answer.headers.get(name)) is not None
    }
    out["Cache-Control"] = "no-store"
    return Response(answer.content, status_code=answer.status_code, headers=out)


def static_router(root: Path) -> APIRouter:
    """The built SPA: files as they are, every other path gets ``index.html``."""
    static = APIRouter(include_in_schema=False)
    base = root.resolve()

    @static.get("/{path:path}")
    async def asset(path: str) -> Response:
        candidate = (base / path).resolve()
        if path and candidate.is_relative_to(base) and candidate.is_file():
            immutable = path.startswith("_app/immutable/")
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            kind = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
            return FileResponse(candidate, media_type=kind, headers={"Cache-Control": cache})
        index = base / "index.html"
        if not index.is_file():
            raise ProblemError(
                503, "the console is not built (npm run build in apps/console/web)", slug="unbuilt"
            )
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    return static


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.upstream_timeout_s) as http:
            app.state.http = http
            yield

    app = create_app(
        settings=settings,
        title="taskplane console",
        version=__version__,
        routers=[router, static_router(settings.static_dir)],
        database=None,
        lifespan=lifespan,
    )
    app.state.sessions = SessionStore(settings.session_idle_s)
    app.add_middleware(SecurityHeaders)
    return app
