"""Workload bindings: which Kubernetes ServiceAccount works which queue.

The operator records one for each TaskQueue's worker ServiceAccount and deletes it with
the TaskQueue; a deleted binding means that ServiceAccount's next exchange is refused.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from auth_service import crud
from auth_service.api.deps import BindingsChangeDep, BindingsWriterDep, ServiceAccountPathDep
from auth_service.kubernetes import ServiceAccount
from auth_service.models import WorkloadBinding
from auth_service.schemas import WorkloadBindingOut, WorkloadBindingPut
from taskplane_common.deps import SessionDep
from taskplane_common.openapi import problems

log = logging.getLogger(__name__)

_WRITERS_ONLY = problems(
    401,
    403,
    s401="No or invalid token",
    s403="Neither an active admin nor workload-bindings:write",
)
router = APIRouter(
    prefix="/api/v1/admin/workload-bindings", tags=["admin"], responses=_WRITERS_ONLY
)


def _out(binding: WorkloadBinding) -> WorkloadBindingOut:
    return WorkloadBindingOut.model_validate(binding, from_attributes=True)


@router.get("", response_model=list[WorkloadBindingOut], summary="Every workload binding")
async def list_bindings(session: SessionDep, _: BindingsWriterDep) -> list[WorkloadBindingOut]:
    return [_out(binding) for binding in await crud.list_workload_bindings(session)]


@router.put(
    "/{namespace}/{service_account}",
    response_model=WorkloadBindingOut,
    summary="Bind a ServiceAccount to the one queue its workers work (idempotent)",
)
async def put_binding(
    account: ServiceAccountPathDep, body: WorkloadBindingPut, change: BindingsChangeDep
) -> WorkloadBindingOut:
    """Re-pointing a binding to another queue, or to another ServiceAccount uid, also
    revokes the access tokens minted under the old one."""
    binding, before = await crud.put_workload_binding(
        change.session, account.namespace, account.name, body.queue, body.service_account_uid
    )
    after = (binding.queue, binding.service_account_uid)
    if before is not None and before != after:
        await crud.revoke_subject(change.session, account.username, "workload binding changed")
    if before != after:
        await change.record(
            "workload_binding.put",
            _target(account),
            queue=binding.queue,
            uid=binding.service_account_uid,
            before=None if before is None else {"queue": before[0], "uid": before[1]},
        )
    await change.session.commit()
    log.info(
        "workload binding recorded",
        extra={
            "sa": f"{account.namespace}:{account.name}",
            "queue": body.queue,
            "by": change.actor.subject,
        },
    )
    return _out(binding)


@router.delete(
    "/{namespace}/{service_account}",
    status_code=204,
    summary="Unbind a ServiceAccount: its tokens are refused within a minute (idempotent)",
)
async def delete_binding(account: ServiceAccountPathDep, change: BindingsChangeDep) -> Response:
    """Also revokes the ServiceAccount's access tokens: refused within a minute."""
    if await crud.delete_workload_binding(change.session, account.namespace, account.name):
        await crud.revoke_subject(change.session, account.username, "workload binding deleted")
        await change.record("workload_binding.delete", _target(account))
    await change.session.commit()
    log.info(
        "workload binding deleted",
        extra={"sa": f"{account.namespace}:{account.name}", "by": change.actor.subject},
    )
    return Response(status_code=204)


def _target(account: ServiceAccount) -> str:
    """The target of a binding's audit entries."""
    return f"serviceaccount:{account.namespace}/{account.name}"
