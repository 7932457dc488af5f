"""Start-up tasks: a signing key exists, and the configured first admin exists.

They need the database, which may not answer yet when the process starts (a chart
install starts every pod at once, an RDS failover, a node restart). So they run in the
background, retried with a bounded backoff, while the service already serves: ``/readyz``
answers 503 until they succeed. Crashing instead would put the pod in a crash loop
whose restart backoff (up to 5 minutes) outlasts the database's outage.
"""

from __future__ import annotations

import asyncio
import logging
import re

from sqlalchemy.engine import make_url
from tenacity import AsyncRetrying, RetryCallState, wait_exponential_jitter

from auth_service import crud
from auth_service.config import Settings
from auth_service.keys import KeyStore, still_starting
from auth_service.passwords import Passwords
from taskplane_common.commandline import ConfigurationError, database_problem
from taskplane_common.db import Database
from taskplane_common.errors import ProblemError

log = logging.getLogger(__name__)

#: The pause after the first failed attempt; it doubles (plus up to 1 s of jitter, so
#: replicas started together do not retry in step) up to :data:`MAX_RETRY_PAUSE_S`.
FIRST_RETRY_PAUSE_S = 0.5
#: The longest pause: the service is ready at most this long after the database is.
MAX_RETRY_PAUSE_S = 10.0


def check_bootstrap_password(settings: Settings, passwords: Passwords) -> None:
    """Refuse a ``TASKPLANE_BOOTSTRAP_ADMIN_PASSWORD`` the password policy refuses, before
    anything is served: bad configuration, which no retry can fix."""
    email, secret = settings.bootstrap_admin_email, settings.bootstrap_admin_password
    if not email or secret is None:
        return
    try:
        passwords.check_policy(secret.get_secret_value(), email)
    except ProblemError as exc:
        raise ConfigurationError(
            f"TASKPLANE_BOOTSTRAP_ADMIN_PASSWORD is too weak: {exc.detail}"
        ) from None


async def bootstrap_admin(database: Database, settings: Settings, passwords: Passwords) -> None:
    """Create ``TASKPLANE_BOOTSTRAP_ADMIN_EMAIL`` as admin if that account is missing.

    An existing account is left untouched: changing it from configuration would let
    whoever controls the environment reset an admin's password silently. The password
    was checked against the policy when the app was built.
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
        user = await crud.create_user(
            session,
            email=email,
            password_hash=await passwords.hash(password),
            full_name="Administrator",
            admin_emails=frozenset({crud.normalize_email(email)}),
            first_user_is_admin=False,
        )
    log.info("bootstrap admin created", extra={"user_id": str(user.id)})


class StartUp:
    """The start-up tasks, run by :meth:`run` until they succeed; :meth:`ready` is the
    service's readiness check beside the database's."""

    def __init__(
        self, key_store: KeyStore, database: Database, settings: Settings, passwords: Passwords
    ) -> None:
        self.key_store = key_store
        self.database = database
        self.settings = settings
        self.passwords = passwords
        self._done = asyncio.Event()
        url = settings.database_url.get_secret_value() if settings.database_url else ""
        self._password = make_url(url).password if url else None

    async def ready(self) -> bool:
        return self._done.is_set()

    def require_done(self) -> None:
        """Raise the 503 problem unless the start-up tasks have succeeded."""
        if not self._done.is_set():
            raise still_starting()

    async def wait(self) -> None:
        """Return once the start-up tasks have succeeded."""
        await self._done.wait()

    async def run(self) -> None:
        """Attempt the tasks until they succeed, pausing between attempts; cancelled at
        shutdown (a pause or a connection attempt ends at once)."""
        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=FIRST_RETRY_PAUSE_S, max=MAX_RETRY_PAUSE_S),
            before_sleep=self._failed,
        )
        async for attempt in retrying:
            with attempt:
                await self.key_store.ensure_key()
                await bootstrap_admin(self.database, self.settings, self.passwords)
        self._done.set()
        log.info(
            "start-up done at attempt %d: a signing key exists, and the bootstrap admin if "
            "one is configured",
            retrying.statistics.get("attempt_number", 1),
        )

    def _failed(self, state: RetryCallState) -> None:
        """One line per failed attempt, naming its cause: no traceback, no password."""
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "start-up attempt %d failed, next in %.1fs: %s",
            state.attempt_number,
            state.upcoming_sleep,
            failure_cause(exc, self._password) if exc else "unknown",
        )


def failure_cause(exc: BaseException, password: str | None) -> str:
    """``exc`` in one line, with a hint where one helps, and ``password`` (the DSN's)
    masked wherever it stands alone, whatever a driver's message quotes (not inside a
    word: a password "p" leaves "port" alone)."""
    lines = str(exc).strip().splitlines()
    cause = database_problem(exc, "`python -m auth_service migrate`") or (
        f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    )
    if not password:
        return cause
    return re.sub(rf"(?<!\w){re.escape(password)}(?!\w)", "***", cause)
