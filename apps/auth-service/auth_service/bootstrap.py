"""Start-up tasks: a signing key exists, and the configured first admin exists."""

from __future__ import annotations

import logging

from auth_service import crud
from auth_service.config import Settings
from auth_service.passwords import Passwords
from taskplane_common.db import Database
from taskplane_common.errors import ProblemError

log = logging.getLogger(__name__)


async def bootstrap_admin(database: Database, settings: Settings, passwords: Passwords) -> None:
    """Create ``TASKPLANE_BOOTSTRAP_ADMIN_EMAIL`` as admin if that account is missing.

    An existing account is left untouched: changing it from configuration would let
    whoever controls the environment reset an admin's password silently.
    """
    email = settings.bootstrap_admin_email
    if not email:
        return
    async with database.session() as session:
        if await crud.user_by_email(session, email) is not None:
            return
        if settings.bootstrap_admin_password is None:
            log.warning(
                "bootstrap admin %s does not exist yet; it becomes admin when it registers",
                email,
            )
            return
        password = settings.bootstrap_admin_password.get_secret_value()
        try:
            passwords.check_policy(password, email)
        except ProblemError as exc:
            raise RuntimeError(
                f"TASKPLANE_BOOTSTRAP_ADMIN_PASSWORD is too weak: {exc.detail}"
            ) from None
        user = await crud.create_user(
            session,
            email=email,
            password_hash=await passwords.hash(password),
            full_name="Administrator",
            admin_emails=frozenset({crud.normalize_email(email)}),
            first_user_is_admin=False,
        )
    log.info("bootstrap admin created", extra={"user_id": str(user.id)})
