"""Request and response bodies of the auth API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field, StringConstraints

import taskplane_client.models as wire
from taskplane_client.models import Omittable
from taskplane_client.models import Request as _Body

RoleName = Literal["admin", "member", "viewer"]
Scope = wire.Scope
FullName = Annotated[
    str, StringConstraints(max_length=200, pattern=wire.NOT_BLANK), AfterValidator(str.strip)
]
#: A hard bound before the policy check, so huge strings never reach Argon2.
Password = Annotated[str, Field(min_length=1, max_length=1024)]
OpaqueToken = Annotated[str, Field(min_length=1, max_length=512)]


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


TokenPair = wire.TokenPair
AccessToken = wire.AccessToken


class RefreshRequest(_Body):
    refresh_token: OpaqueToken


class ServiceTokenExchange(_Body):
    token: OpaqueToken


KubernetesTokenExchange = wire.KubernetesTokenExchange
NAMESPACE_PATTERN = wire.NAMESPACE_PATTERN
SERVICE_ACCOUNT_PATTERN = wire.SERVICE_ACCOUNT_PATTERN
WorkloadBindingPut = wire.WorkloadBindingPut
WorkloadBindingOut = wire.WorkloadBinding


class UserChange(_Body):
    """Fields left out keep their value; neither can be ``null`` (422)."""

    role: Omittable[RoleName] = None
    is_active: Omittable[bool] = None


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


ServiceTokenCreate = wire.ServiceTokenCreate
ServiceTokenOut = wire.ServiceToken
ServiceTokenCreated = wire.ServiceTokenCreated


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
