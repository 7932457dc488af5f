"""Liveness, readiness and metrics endpoints every service exposes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from taskplane_common.errors import problem_response, problem_type
from taskplane_common.metrics import metrics_endpoint

ReadinessCheck = Callable[[], Awaitable[bool]]


def health_router(ready_checks: dict[str, ReadinessCheck]) -> APIRouter:
    """``/healthz`` answers while the process runs; ``/readyz`` only when every check passes."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: 200 only when every check passes (the database, and the service's own)",
        responses={503: {"description": "A check fails; `checks` says which"}},
    )
    async def readyz() -> JSONResponse:
        results = {name: await check() for name, check in ready_checks.items()}
        if all(results.values()):
            return JSONResponse({"status": "ready", "checks": results})
        failing = ", ".join(name for name, ok in results.items() if not ok)
        return problem_response(
            503,
            f"not ready: {failing} unavailable",
            type_=problem_type("not-ready"),
            headers={"Retry-After": "2"},
            extra={"checks": results},
        )

    router.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    return router
