"""Tokens, service tokens, Kubernetes workload bindings and what a token says."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
)

from taskplane_client.models.base import NOT_BLANK, QueueName, Request, Response

__all__ = [
    "NAMESPACE_PATTERN",
    "SERVICE_ACCOUNT_PATTERN",
    "AccessToken",
    "Identity",
    "KubernetesTokenExchange",
    "Namespace",
    "Scope",
    "ServiceAccountName",
    "ServiceToken",
    "ServiceTokenCreate",
    "ServiceTokenCreated",
    "TokenPair",
    "WorkloadBinding",
    "WorkloadBindingKey",
    "WorkloadBindingPut",
]

Scope = Literal[
    "queues:work", "queues:admin", "events:read", "users:read", "workload-bindings:write"
]


class AccessToken(Response):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int


class TokenPair(AccessToken):
    refresh_token: str


class ServiceTokenCreate(Request):
    name: Annotated[
        str, StringConstraints(max_length=100, pattern=NOT_BLANK), AfterValidator(str.strip)
    ]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=5)]
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class ServiceToken(Response):
    id: uuid.UUID
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ServiceTokenCreated(ServiceToken):
    token: str = Field(description="Shown once; exchange it at /api/v1/auth/service-token")


class KubernetesTokenExchange(Request):
    """A pod's projected ServiceAccount token (audience ``taskplane``) to exchange."""

    token: Annotated[
        str,
        Field(
            min_length=1,
            max_length=16_384,
            description="The pod's projected ServiceAccount token (audience taskplane)",
        ),
    ]


#: A namespace is a DNS label; a ServiceAccount name a DNS subdomain.
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
SERVICE_ACCOUNT_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
Namespace = Annotated[str, StringConstraints(max_length=63, pattern=NAMESPACE_PATTERN)]
ServiceAccountName = Annotated[
    str, StringConstraints(max_length=253, pattern=SERVICE_ACCOUNT_PATTERN)
]


class WorkloadBindingKey(Request):
    """Which ServiceAccount a binding is for (checked before the path is built)."""

    namespace: Namespace
    service_account: ServiceAccountName

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.service_account}"


class WorkloadBindingPut(Request):
    queue: QueueName
    #: The ServiceAccount's ``metadata.uid``. Omitted: a new binding records the uid of the
    #: first token exchanged, an existing one keeps the uid it has.
    service_account_uid: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = (
        None
    )


class WorkloadBinding(Response):
    """A Kubernetes ServiceAccount allowed to work one queue."""

    namespace: str
    service_account: str
    queue: str
    #: The ServiceAccount's uid the binding accepts (None until its first exchange).
    service_account_uid: str | None = None
    created_at: datetime
    updated_at: datetime


class Identity(Response):
    """What an access token says about its holder (read locally, not verified)."""

    sub: str
    roles: list[str] = Field(default_factory=list)
    scope: str = ""
    exp: int | None = None
    email: str | None = None
    #: A Kubernetes worker's token works this one queue only.
    taskplane_queue: str | None = None
