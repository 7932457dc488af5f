"""Workload bindings: which Kubernetes ServiceAccount works which queue.

The operator records one for each TaskQueue's worker ServiceAccount and deletes it with
the TaskQueue; a deleted binding means that ServiceAccount's next exchange is refused.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from auth_service import crud
from auth_service.api.deps import BindingsWriterDep, SessionDep
from auth_service.kubernetes import ServiceAccount
from auth_service.models import WorkloadBinding
from auth_service.schemas import (
    NAMESPACE_PATTERN,
    SERVICE_ACCOUNT_PATTERN,
    WorkloadBindingOut,
    WorkloadBindingPut,
)
from taskplane_common import audit
from taskplane_common.openapi import problems

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/admin/workload-bindings", tags=["admin"])

_WRITERS_ONLY = problems(
    401,
    403,
    s401="No or invalid token",
    s403="Neither an active admin nor workload-bindings:write",
)
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
    request: Request,
    session: SessionDep,
    writer: BindingsWriterDep,
) -> WorkloadBindingOut:
    """Re-pointing a binding to another queue, or to another ServiceAccount uid, also
    revokes the access tokens minted under the old one."""
    binding, before = await crud.put_workload_binding(
        session, namespace, service_account, body.queue, body.service_account_uid
    )
    after = (binding.queue, binding.service_account_uid)
    if before is not None and before != after:
        subject = ServiceAccount(namespace, service_account).username
        await crud.revoke_subject(session, subject, "workload binding changed")
    if before != after:
        await audit.record(
            session,
            request,
            action="workload_binding.put",
            target=f"serviceaccount:{namespace}/{service_account}",
            actor=writer,
            details={
                "queue": binding.queue,
                "uid": binding.service_account_uid,
                "before": None if before is None else {"queue": before[0], "uid": before[1]},
            },
        )
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
    summary="Unbind a ServiceAccount: its tokens are refused within a minute (idempotent)",
)
async def delete_binding(
    namespace: NamespacePath,
    service_account: ServiceAccountPath,
    request: Request,
    session: SessionDep,
    writer: BindingsWriterDep,
) -> Response:
    """Also revokes the ServiceAccount's access tokens: refused within a minute."""
    if await crud.delete_workload_binding(session, namespace, service_account):
        subject = ServiceAccount(namespace, service_account).username
        await crud.revoke_subject(session, subject, "workload binding deleted")
        await audit.record(
            session,
            request,
            action="workload_binding.delete",
            target=f"serviceaccount:{namespace}/{service_account}",
            actor=writer,
        )
    await session.commit()
    log.info(
        "workload binding deleted",
        extra={"sa": f"{namespace}:{service_account}", "by": writer.subject},
    )
    return Response(status_code=204)
