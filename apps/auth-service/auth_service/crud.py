"""Data access for users, refresh-token chains, service tokens and workload bindings
(callers commit)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import RefreshToken, Revocation, ServiceToken, User, WorkloadBinding
from auth_service.tokens import new_secret, secret_hash
from taskplane_common.revocations import subject_digest

#: How long a revocation stays on the list verifiers poll: longer than any access token
#: lives (≤ 900 s) plus the largest verifier leeway (≤ 300 s), with a margin.
REVOCATION_WINDOW_S = 1800
REVOCATION_PAGE = 1000


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
    session: AsyncSession, namespace: str, service_account: str, *, for_update: bool = False
) -> WorkloadBinding | None:
    query = select(WorkloadBinding).where(
        WorkloadBinding.namespace == namespace, WorkloadBinding.service_account == service_account
    )
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def put_workload_binding(
    session: AsyncSession, namespace: str, service_account: str, queue: str, uid: str | None
) -> tuple[WorkloadBinding, tuple[str, str | None] | None]:
    """Create or re-point a binding; returns it and its (queue, uid) before (None: new).

    Without ``uid`` an existing binding keeps the uid it recorded, so the operator's
    idempotent re-binds never loosen it; a new one records it at the first exchange.
    """
    statement = (
        insert(WorkloadBinding)
        .values(
            namespace=namespace,
            service_account=service_account,
            queue=queue,
            service_account_uid=uid,
        )
        .on_conflict_do_nothing(
            index_elements=[WorkloadBinding.namespace, WorkloadBinding.service_account]
        )
        .returning(WorkloadBinding)
    )
    created = (await session.execute(statement)).scalar_one_or_none()
    if created is not None:
        return created, None
    stored = await workload_binding(session, namespace, service_account, for_update=True)
    assert stored is not None  # bindings are deleted only under this same row lock
    before = (stored.queue, stored.service_account_uid)
    if stored.queue != queue or (uid is not None and stored.service_account_uid != uid):
        stored.queue = queue
        stored.service_account_uid = uid or stored.service_account_uid
        stored.updated_at = datetime.now(UTC)
        await session.flush()
    return stored, before


async def delete_workload_binding(
    session: AsyncSession, namespace: str, service_account: str
) -> bool:
    result = await session.execute(
        delete(WorkloadBinding)
        .where(
            WorkloadBinding.namespace == namespace,
            WorkloadBinding.service_account == service_account,
        )
        .returning(WorkloadBinding.queue)
    )
    return result.first() is not None


async def list_workload_bindings(session: AsyncSession) -> list[WorkloadBinding]:
    query = select(WorkloadBinding).order_by(
        WorkloadBinding.namespace, WorkloadBinding.service_account
    )
    return list((await session.execute(query)).scalars())


# -- revocations -------------------------------------------------------------------------


async def subject_epoch(session: AsyncSession, subject: str) -> int:
    """The epoch a token minted now for ``subject`` carries (0: never revoked)."""
    query = select(Revocation.epoch).where(Revocation.subject == subject)
    return int((await session.execute(query)).scalar_one_or_none() or 0)


async def revoke_subject(session: AsyncSession, subject: str, reason: str) -> int:
    """Refuse every token of ``subject`` minted so far; returns the new epoch.

    The transaction-scoped advisory lock makes revocations commit in version order, so
    a verifier that has seen version N has seen every version below it.
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('auth-revocations'))"))
    statement = text(
        "INSERT INTO auth.revocations AS r "
        "(subject, subject_sha256, epoch, version, revoked_at, reason) "
        "VALUES (:subject, :digest, 1, "
        "  (SELECT coalesce(max(version), 0) + 1 FROM auth.revocations), now(), :reason) "
        "ON CONFLICT (subject) DO UPDATE SET epoch = r.epoch + 1, "
        "  version = excluded.version, revoked_at = now(), reason = excluded.reason "
        "RETURNING r.epoch"
    )
    params = {"subject": subject, "digest": subject_digest(subject), "reason": reason}
    return int((await session.execute(statement, params)).scalar_one())


async def revocation_page(session: AsyncSession, since: int) -> dict[str, object]:
    """Revocations after version ``since`` still within the window, oldest first.

    One statement, so the page and the version it reports come from one snapshot: the
    version never runs ahead of the entries a verifier received.
    """
    rows = (
        await session.execute(
            text(
                "SELECT subject_sha256, epoch, revoked_at, version, "
                "(SELECT coalesce(max(version), 0) FROM auth.revocations) AS top "
                "FROM (SELECT 1) AS one LEFT JOIN LATERAL ("
                "  SELECT * FROM auth.revocations WHERE version > :since "
                "  AND revoked_at > now() - make_interval(secs => :window) "
                "  ORDER BY version LIMIT :limit) AS r ON true"
            ),
            {"since": since, "window": REVOCATION_WINDOW_S, "limit": REVOCATION_PAGE + 1},
        )
    ).all()
    entries = [row for row in rows if row.version is not None]
    more = len(entries) > REVOCATION_PAGE
    entries = entries[:REVOCATION_PAGE]
    version = entries[-1].version if more else rows[0].top
    return {
        "version": int(version),
        "window_s": REVOCATION_WINDOW_S,
        "more": more,
        "items": [
            {
                "subject_sha256": row.subject_sha256,
                "epoch": row.epoch,
                "revoked_at": row.revoked_at.isoformat(),
                "version": row.version,
            }
            for row in entries
        ],
    }
