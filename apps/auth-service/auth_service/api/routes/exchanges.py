"""The exchanges of service tokens and Kubernetes ServiceAccount tokens for access
tokens (workers, the operator, the platform's own workloads)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from auth_service import crud, ratelimit
from auth_service.api.deps import AuthCall, AuthCallDep, KubernetesVerifierDep
from auth_service.api.routes.responses import RATE_LIMITED, UNAUTHORIZED, token_response
from auth_service.kubernetes import ServiceAccount
from auth_service.schemas import AccessToken, KubernetesTokenExchange, ServiceTokenExchange
from auth_service.tokens import service_subject
from taskplane_common.errors import ProblemError
from taskplane_common.openapi import problems

log = logging.getLogger(__name__)

#: Every exchange may refuse the token it is given, or the client's next attempt.
router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses={**UNAUTHORIZED, **RATE_LIMITED})

WORKER_SCOPES = frozenset({"queues:work"})


@router.post(
    "/service-token",
    response_model=AccessToken,
    summary="Exchange a service token (workers, operator) for a short-lived access token",
)
async def exchange_service_token(body: ServiceTokenExchange, call: AuthCallDep) -> Response:
    session = call.session
    await _limit_exchanges(call)
    stored = await crud.usable_service_token(session, body.token)
    if stored is None:
        await call.audit("auth.token.exchange", "service-token:unknown", None, outcome="failure")
        await session.commit()
        raise ProblemError(
            401, "the service token is invalid, expired or revoked", slug="invalid-service-token"
        )
    subject = service_subject(stored.id)
    # The epoch first, then whether the token is still unrevoked: a revocation
    # committing in between leaves this access token with the old epoch (refused).
    epoch = await crud.subject_epoch(session, subject)
    await session.refresh(stored, ["revoked_at"])
    if stored.revoked_at is not None:
        raise ProblemError(
            401, "the service token is invalid, expired or revoked", slug="invalid-service-token"
        )
    access = await call.issuer.for_service(stored, epoch)
    target = f"service-token:{stored.id}"
    await call.audit("auth.token.exchange", target, subject, actor_name=stored.name)
    await session.commit()
    return token_response(access, call.settings.access_token_ttl_s)


async def _limit_exchanges(call: AuthCall) -> None:
    """Token exchanges share the login budget of the client address."""
    bucket = ratelimit.address_bucket(call.address)
    by_address = await ratelimit.hit(call.session, bucket, call.settings.login_window_s)
    await call.session.commit()
    if by_address.count > call.settings.login_max_attempts_per_address:
        raise ratelimit.too_many(by_address)


@router.post(
    "/kubernetes-token",
    response_model=AccessToken,
    summary="Exchange a projected Kubernetes ServiceAccount token for an access token",
    responses=problems(
        404,
        503,
        s404="Kubernetes authentication is not enabled",
        s503="The issuer or API server cannot be reached",
    ),
)
async def exchange_kubernetes_token(
    body: KubernetesTokenExchange,
    call: AuthCallDep,
    verifier: KubernetesVerifierDep,
) -> Response:
    """The platform's own ServiceAccounts (operator, notification-service) get their
    configured scopes; any other gets ``queues:work`` for the one queue its workload
    binding names, or nothing."""
    if verifier is None:
        raise ProblemError(
            404,
            "Kubernetes ServiceAccount authentication is not enabled "
            "(TASKPLANE_AUTH_KUBERNETES_ISSUER is unset)",
            slug="kubernetes-auth-disabled",
        )
    await _limit_exchanges(call)
    try:
        account = await verifier.verify(body.token)
    except ProblemError as refusal:
        if refusal.status == 401:
            await _exchange_refused(call, "unverified", "invalid token")
        raise
    settings = call.settings
    platform_scopes = settings.kubernetes_platform_scopes.get((account.namespace, account.name))
    scopes, queue = platform_scopes, None
    if scopes is None:
        scopes, queue = WORKER_SCOPES, await _bound_queue(call, account)
    epoch = await crud.subject_epoch(call.session, account.username)
    access = await call.issuer.for_service_account(account, scopes, queue, epoch)
    target = f"serviceaccount:{account.namespace}/{account.name}"
    details = {"uid": account.uid}
    await call.audit("auth.kubernetes.exchange", target, account.username, details=details)
    await call.session.commit()
    return token_response(access, settings.access_token_ttl_s)


async def _exchange_refused(
    call: AuthCall, target: str, reason: str, actor: str | None = None
) -> None:
    """Audit a refused Kubernetes exchange (committed: the refusal raises after it)."""
    await call.audit(
        "auth.kubernetes.exchange",
        f"serviceaccount:{target}",
        actor,
        outcome="failure",
        details={"reason": reason},
    )
    await call.session.commit()


async def _bound_queue(call: AuthCall, account: ServiceAccount) -> str:
    """The queue a worker's binding names; 401 without one, or when the binding recorded
    another ServiceAccount uid (the ServiceAccount was deleted and recreated).

    A binding made without a uid records the uid of the first token exchanged for it.
    """
    binding = await crud.workload_binding(
        call.session, account.namespace, account.name, for_update=True
    )
    target = f"{account.namespace}/{account.name}"
    if binding is None:
        log.info("ServiceAccount without a workload binding", extra={"sa": account.username})
        await _exchange_refused(call, target, "not bound", account.username)
        raise ProblemError(
            401, "this ServiceAccount is not bound to any queue", slug="invalid-kubernetes-token"
        )
    if binding.service_account_uid is None and account.uid is not None:
        binding.service_account_uid = account.uid
    elif binding.service_account_uid != account.uid:
        log.warning(
            "ServiceAccount uid differs from its binding's: recreated since it was bound",
            extra={"sa": account.username},
        )
        await _exchange_refused(call, target, "uid differs", account.username)
        raise ProblemError(
            401,
            "this ServiceAccount was recreated since it was bound; bind it again",
            slug="invalid-kubernetes-token",
        )
    return binding.queue
