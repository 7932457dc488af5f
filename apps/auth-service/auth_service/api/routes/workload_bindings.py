"""Workload bindings: which Kubernetes ServiceAccount works which queue.

The operator records one for each TaskQueue's worker ServiceAccount and deletes it with
the TaskQueue; a deleted binding means that ServiceAccount's next exchange is refused.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from auth_service import crud
from auth_service.api.deps import BindingsWriterDep, SessionDep
from auth_service.models import WorkloadBinding
from auth_service.schemas import (
    NAMESPACE_PATTERN,
    SERVICE_ACCOUNT_PATTERN,
    WorkloadBindingOut,
    WorkloadBindingPut,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/admin/workload-bindings", tags=["admin"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_WRITERS_ONLY: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid token", **_PROBLEM},
    403: {"description": "Neither an active admin nor workload-bindings:write", **_PROBLEM},
}
NamespacePath = Annotated[str, Path(max_length=63, pattern=NAMESPACE_PATTERN)]
ServiceAccountPath = Annotated[str, Path(max_length=253, pattern=SERVICE_ACCOUNT_PATTERN)]


def _out(binding: WorkloadBinding) -> WorkloadBindingOut:
    return WorkloadBindingOut.model_validate(binding, from_attributes=True)


@router.get(
    "",
    response_model=list[WorkloadBindingOut],
    responses=_WRITERS_ONLY,
    summary="Every workload binding",
)
async def list_bindings(session: SessionDep, _: BindingsWriterDep) -> list[WorkloadBindingOut]:
    return [_out(binding) for binding in await crud.list_workload_bindings(session)]


@router.put(
    "/{namespace}/{service_account}",
    response_model=WorkloadBindingOut,
    responses=_WRITERS_ONLY,
    summary="Bind a ServiceAccount to the one queue its workers work (idempotent)",
)
async def put_binding(
    namespace: NamespacePath,
    service_account: ServiceAccountPath,
    body: WorkloadBindingPut,
    session: SessionDep,
    writer: BindingsWriterDep,
) -> WorkloadBindingOut:
    binding = await crud.put_workload_binding(session, namespace, service_account, body.queue)
    await session.commit()
    log.info(
        "workload binding recorded",
        extra={"sa": f"{namespace}:{service_account}", "queue": body.queue, "by": writer.subject},
    )
    return _out(binding)


@router.delete(
    "/{namespace}/{service_account}",
    status_code=204,
    responses=_WRITERS_ONLY,
    summary="Unbind a ServiceAccount: its next exchange is refused (idempotent)",
)
async def delete_binding(
    namespace: NamespacePath,
    service_account: ServiceAccountPath,
    session: SessionDep,
    writer: BindingsWriterDep,
) -> Response:
    await crud.delete_workload_binding(session, namespace, service_account)
    await session.commit()
    log.info(
        "workload binding deleted",
        extra={"sa": f"{namespace}:{service_account}", "by": writer.subject},
    )
    return Response(status_code=204)
