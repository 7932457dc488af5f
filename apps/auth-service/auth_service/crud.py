"""Data access for users, refresh-token chains, service tokens and workload bindings
(callers commit)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import RefreshToken, ServiceToken, User, WorkloadBinding
from auth_service.tokens import new_secret, secret_hash


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    query = select(User).where(User.email == normalize_email(email))
    return (await session.execute(query)).scalar_one_or_none()


async def user_by_id(
    session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False
) -> User | None:
    query = select(User).where(User.id == user_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password_hash: str,
    full_name: str | None,
    admin_emails: frozenset[str],
    first_user_is_admin: bool,
) -> User:
    """The first user (if configured) and the bootstrap email become admins.

    The advisory lock serialises registrations only around the "am I first?" check, so
    two simultaneous first registrations cannot both become admin.
    """
    email = normalize_email(email)
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('auth-register'))"))
    first = (
        first_user_is_admin and (await session.execute(select(User.id).limit(1))).first() is None
    )
    now = datetime.now(UTC)
    user = User(
        id=uuid.uuid4(),
        email=email,
        full_name=full_name,
        password_hash=password_hash,
        role="admin" if first or email in admin_emails else "member",
        is_active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def count_active_admins(session: AsyncSession) -> int:
    query = select(func.count()).where(User.role == "admin", User.is_active.is_(True))
    return int((await session.execute(query)).scalar_one())


async def list_users(
    session: AsyncSession, limit: int, after_email: str | None
) -> tuple[list[User], bool]:
    query = select(User).order_by(User.email).limit(limit + 1)
    if after_email is not None:
        query = query.where(User.email > after_email)
    rows = list((await session.execute(query)).scalars())
    return rows[:limit], len(rows) > limit


# -- refresh tokens ----------------------------------------------------------------------


async def issue_refresh_token(
    session: AsyncSession, user: User, ttl: timedelta, family_id: uuid.UUID | None = None
) -> str:
    secret = new_secret()
    now = datetime.now(UTC)
    session.add(
        RefreshToken(
            id=uuid.uuid4(),
            family_id=family_id or uuid.uuid4(),
            user_id=user.id,
            token_hash=secret_hash(secret),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return secret


async def refresh_token_by_secret(session: AsyncSession, secret: str) -> RefreshToken | None:
    """Locked, so two concurrent refreshes of one token cannot both succeed."""
    query = (
        select(RefreshToken).where(RefreshToken.token_hash == secret_hash(secret)).with_for_update()
    )
    return (await session.execute(query)).scalar_one_or_none()


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def revoke_user_tokens(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


# -- service tokens ----------------------------------------------------------------------


async def create_service_token(
    session: AsyncSession,
    *,
    name: str,
    scopes: list[str],
    created_by: uuid.UUID | None,
    expires_at: datetime | None,
    prefix: str,
) -> tuple[ServiceToken, str]:
    secret = new_secret(prefix)
    token = ServiceToken(
        id=uuid.uuid4(),
        name=name,
        scopes=sorted(set(scopes)),
        token_hash=secret_hash(secret),
        created_by=created_by,
        created_at=datetime.now(UTC),
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    return token, secret


async def usable_service_token(session: AsyncSession, secret: str) -> ServiceToken | None:
    now = datetime.now(UTC)
    query = select(ServiceToken).where(
        ServiceToken.token_hash == secret_hash(secret),
        ServiceToken.revoked_at.is_(None),
        and_(
            (ServiceToken.expires_at.is_(None)) | (ServiceToken.expires_at > now),
        ),
    )
    token = (await session.execute(query)).scalar_one_or_none()
    if token is not None:
        token.last_used_at = now
    return token


async def list_service_tokens(session: AsyncSession) -> list[ServiceToken]:
    query = select(ServiceToken).order_by(ServiceToken.created_at.desc(), ServiceToken.id)
    return list((await session.execute(query)).scalars())


async def revoke_service_token(session: AsyncSession, token_id: uuid.UUID) -> bool:
    result = await session.execute(
        update(ServiceToken)
        .where(ServiceToken.id == token_id)
        .values(revoked_at=func.coalesce(ServiceToken.revoked_at, func.now()))
        .returning(ServiceToken.id)
    )
    return result.first() is not None


async def workload_binding(
    session: AsyncSession, namespace: str, service_account: str
) -> WorkloadBinding | None:
    return await session.get(WorkloadBinding, (namespace, service_account))


async def put_workload_binding(
    session: AsyncSession, namespace: str, service_account: str, queue: str
) -> WorkloadBinding:
    """Create or re-point a binding in one statement (concurrent PUTs cannot collide)."""
    statement = (
        insert(WorkloadBinding)
        .values(namespace=namespace, service_account=service_account, queue=queue)
        .on_conflict_do_update(
            index_elements=[WorkloadBinding.namespace, WorkloadBinding.service_account],
            set_={
                "queue": queue,
                "updated_at": func.now(),
            },
            where=WorkloadBinding.queue != queue,
        )
        .returning(WorkloadBinding)
        .execution_options(populate_existing=True)
    )
    stored = (await session.execute(statement)).scalar_one_or_none()
    if stored is None:  # unchanged: the conflict's WHERE kept the row as it was
        stored = await workload_binding(session, namespace, service_account)
        assert stored is not None
    return stored


async def delete_workload_binding(
    session: AsyncSession, namespace: str, service_account: str
) -> None:
    await session.execute(
        delete(WorkloadBinding).where(
            WorkloadBinding.namespace == namespace,
            WorkloadBinding.service_account == service_account,
        )
    )


async def list_workload_bindings(session: AsyncSession) -> list[WorkloadBinding]:
    query = select(WorkloadBinding).order_by(
        WorkloadBinding.namespace, WorkloadBinding.service_account
    )
    return list((await session.execute(query)).scalars())
