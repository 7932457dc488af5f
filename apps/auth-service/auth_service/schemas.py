"""Request and response bodies of the auth API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

RoleName = Literal["admin", "member", "viewer"]
Scope = Literal[
    "queues:work", "queues:admin", "events:read", "users:read", "workload-bindings:write"
]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
#: A hard bound before the policy check, so huge strings never reach Argon2.
Password = Annotated[str, Field(min_length=1, max_length=1024)]
OpaqueToken = Annotated[str, Field(min_length=1, max_length=512)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(_Body):
    email: EmailStr
    password: Password
    full_name: FullName | None = None


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str | None
    role: RoleName
    is_active: bool
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int


class RefreshRequest(_Body):
    refresh_token: OpaqueToken


class ServiceTokenExchange(_Body):
    token: OpaqueToken


class KubernetesTokenExchange(_Body):
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
#: The task-service's queue names.
QUEUE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


class WorkloadBindingPut(_Body):
    queue: Annotated[str, StringConstraints(pattern=QUEUE_NAME_PATTERN)]
    #: The ServiceAccount's ``metadata.uid``. Omitted: a new binding records the uid of the
    #: first token exchanged, an existing one keeps the uid it has.
    service_account_uid: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = (
        None
    )


class WorkloadBindingOut(BaseModel):
    namespace: str
    service_account: str
    queue: str
    service_account_uid: str | None
    created_at: datetime
    updated_at: datetime


class UserChange(_Body):
    role: RoleName | None = None
    is_active: bool | None = None


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class ServiceTokenCreate(_Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=5)]
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class ServiceTokenOut(BaseModel):
    id: uuid.UUID
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ServiceTokenCreated(ServiceTokenOut):
    token: str = Field(description="Shown once; exchange it at /api/v1/auth/service-token")


class SigningKeyOut(BaseModel):
    kid: str
    created_at: datetime
    signing: bool


class Jwks(BaseModel):
    keys: list[dict[str, str]]


class RevocationOut(BaseModel):
    #: SHA-256 (hex) of the token ``sub``: the list names nobody in the clear.
    subject_sha256: str
    #: Tokens of this subject carrying a lower ``taskplane_epoch`` are refused.
    epoch: int
    revoked_at: datetime
    version: int


class RevocationList(BaseModel):
    #: Pass back as ``since`` on the next poll.
    version: int
    #: How long after ``revoked_at`` an entry matters (every older token has expired).
    window_s: int
    #: More entries follow: poll again at once with ``since=version``.
    more: bool
    items: list[RevocationOut]
