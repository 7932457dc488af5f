"""The auth-service's calls: sessions, service tokens, Kubernetes token exchange and
workload bindings."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

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

T = TypeVar("T")


def _session(
    name: str,
    path: str,
    parse: Callable[[httpx.Response], T],
    *,
    json: Any = None,
    data: dict[str, str] | None = None,
    idempotent: bool = False,
) -> Call[T]:
    """A POST that hands out or ends a session: it takes no access token."""
    return Call(
        name,
        "POST",
        path,
        parse,
        service="auth",
        json=json,
        data=data,
        authenticated=False,
        idempotent=idempotent,
    )


def _admin(
    name: str,
    method: str,
    path: str,
    parse: Callable[[httpx.Response], T],
    body: BaseModel | None = None,
) -> Call[T]:
    """An admin call; all but the POSTs are idempotent (GET, PUT, DELETE: RFC 9110)."""
    json = None if body is None else body_of(body)
    return Call(name, method, path, parse, service="auth", json=json, idempotent=method != "POST")


def login(email: str, password: str) -> Call[TokenPair]:
    form = {"username": email, "password": password}
    return _session("login", LOGIN_PATH, model(TokenPair), data=form)


def refresh(refresh_token: str) -> Call[TokenPair]:
    body = {"refresh_token": refresh_token}
    return _session("refresh", REFRESH_PATH, model(TokenPair), json=body)


def logout(refresh_token: str) -> Call[None]:
    body = {"refresh_token": refresh_token}
    return _session("logout", LOGOUT_PATH, nothing, json=body, idempotent=True)


def exchange_kubernetes_token(token: str) -> Call[AccessToken]:
    """A pod's projected ServiceAccount token for a short-lived access token."""
    body = body_of(KubernetesTokenExchange(token=token))
    return _session(
        "exchange_kubernetes_token",
        KUBERNETES_EXCHANGE_PATH,
        model(AccessToken),
        json=body,
        idempotent=True,
    )


SERVICE_TOKENS = "/api/v1/admin/service-tokens"


def create_service_token(body: ServiceTokenCreate) -> Call[ServiceTokenCreated]:
    return _admin("create_service_token", "POST", SERVICE_TOKENS, model(ServiceTokenCreated), body)


def list_service_tokens() -> Call[list[ServiceToken]]:
    return _admin("list_service_tokens", "GET", SERVICE_TOKENS, model(list[ServiceToken]))


def revoke_service_token(token_id: uuid.UUID | str) -> Call[None]:
    return _admin("revoke_service_token", "DELETE", f"{SERVICE_TOKENS}/{token_id}", nothing)


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
    path = _binding(namespace, service_account)
    body = WorkloadBindingPut(queue=queue, service_account_uid=service_account_uid)
    return _admin("put_workload_binding", "PUT", path, model(WorkloadBinding), body)


def delete_workload_binding(namespace: str, service_account: str) -> Call[None]:
    """Revoke: that ServiceAccount's next exchange is refused."""
    path = _binding(namespace, service_account)
    return _admin("delete_workload_binding", "DELETE", path, nothing)


def list_workload_bindings() -> Call[list[WorkloadBinding]]:
    return _admin("list_workload_bindings", "GET", WORKLOAD_BINDINGS, model(list[WorkloadBinding]))
