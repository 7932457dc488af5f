"""The auth-service's calls: sessions, service tokens, Kubernetes token exchange and
workload bindings."""

from __future__ import annotations

import uuid

from taskplane_client.auth import KUBERNETES_EXCHANGE_PATH, LOGIN_PATH, LOGOUT_PATH, REFRESH_PATH
from taskplane_client.models import (
    AccessToken,
    KubernetesTokenExchange,
    ServiceToken,
    ServiceTokenCreate,
    ServiceTokenCreated,
    TokenPair,
    WorkloadBinding,
    WorkloadBindingKey,
    WorkloadBindingPut,
)
from taskplane_client.transport import Call, body_of, model, nothing

__all__ = [
    "create_service_token",
    "delete_workload_binding",
    "exchange_kubernetes_token",
    "list_service_tokens",
    "list_workload_bindings",
    "login",
    "logout",
    "put_workload_binding",
    "refresh",
    "revoke_service_token",
]

# ----------------------------------------------------------------------------- auth


def login(email: str, password: str) -> Call[TokenPair]:
    return Call(
        "login",
        "POST",
        LOGIN_PATH,
        model(TokenPair),
        service="auth",
        data={"username": email, "password": password},
        authenticated=False,
    )


def refresh(refresh_token: str) -> Call[TokenPair]:
    return Call(
        "refresh",
        "POST",
        REFRESH_PATH,
        model(TokenPair),
        service="auth",
        json={"refresh_token": refresh_token},
        authenticated=False,
    )


def logout(refresh_token: str) -> Call[None]:
    return Call(
        "logout",
        "POST",
        LOGOUT_PATH,
        nothing,
        service="auth",
        json={"refresh_token": refresh_token},
        authenticated=False,
        idempotent=True,
    )


SERVICE_TOKENS = "/api/v1/admin/service-tokens"


def create_service_token(body: ServiceTokenCreate) -> Call[ServiceTokenCreated]:
    return Call(
        "create_service_token",
        "POST",
        SERVICE_TOKENS,
        model(ServiceTokenCreated),
        service="auth",
        json=body_of(body),
    )


def list_service_tokens() -> Call[list[ServiceToken]]:
    return Call(
        "list_service_tokens",
        "GET",
        SERVICE_TOKENS,
        model(list[ServiceToken]),
        service="auth",
        idempotent=True,
    )


def revoke_service_token(token_id: uuid.UUID | str) -> Call[None]:
    return Call(
        "revoke_service_token",
        "DELETE",
        f"{SERVICE_TOKENS}/{token_id}",
        nothing,
        service="auth",
        idempotent=True,
    )


def exchange_kubernetes_token(token: str) -> Call[AccessToken]:
    """A pod's projected ServiceAccount token for a short-lived access token."""
    return Call(
        "exchange_kubernetes_token",
        "POST",
        KUBERNETES_EXCHANGE_PATH,
        model(AccessToken),
        service="auth",
        json=body_of(KubernetesTokenExchange(token=token)),
        authenticated=False,
        idempotent=True,
    )


WORKLOAD_BINDINGS = "/api/v1/admin/workload-bindings"


def _binding(namespace: str, service_account: str) -> str:
    key = WorkloadBindingKey(namespace=namespace, service_account=service_account)
    return f"{WORKLOAD_BINDINGS}/{key.path}"


def put_workload_binding(
    namespace: str, service_account: str, queue: str, service_account_uid: str | None = None
) -> Call[WorkloadBinding]:
    """Let ``namespace:service_account`` work ``queue`` only (the operator, per TaskQueue).

    ``service_account_uid`` pins the binding to that ServiceAccount's ``metadata.uid``:
    tokens of a recreated ServiceAccount (another uid) are refused until bound again.
    """
    return Call(
        "put_workload_binding",
        "PUT",
        _binding(namespace, service_account),
        model(WorkloadBinding),
        service="auth",
        json=body_of(WorkloadBindingPut(queue=queue, service_account_uid=service_account_uid)),
        idempotent=True,
    )


def delete_workload_binding(namespace: str, service_account: str) -> Call[None]:
    """Revoke: that ServiceAccount's next exchange is refused."""
    return Call(
        "delete_workload_binding",
        "DELETE",
        _binding(namespace, service_account),
        nothing,
        service="auth",
        idempotent=True,
    )


def list_workload_bindings() -> Call[list[WorkloadBinding]]:
    return Call(
        "list_workload_bindings",
        "GET",
        WORKLOAD_BINDINGS,
        model(list[WorkloadBinding]),
        service="auth",
        idempotent=True,
    )
