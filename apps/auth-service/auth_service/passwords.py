"""Argon2id hashing, the password policy, and constant-time handling of unknown emails."""

from __future__ import annotations

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from auth_service.config import Settings
from taskplane_common.errors import ProblemError

MIN_DISTINCT_CHARACTERS = 4


class Passwords:
    """Hashing runs in a worker thread: Argon2 is deliberately slow and must not block the loop.

    Unknown emails are verified against a dummy hash with the same parameters, so a
    login with an unknown email costs what a wrong password costs.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._dummy_hash = self.hasher.hash("taskplane-dummy-password-for-unknown-emails")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self.hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with no hash, burn the same time and say no."""
        candidate = password_hash or self._dummy_hash
        ok = await anyio.to_thread.run_sync(self._verify, candidate, password)
        return ok and password_hash is not None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    def check_policy(self, password: str, email: str) -> None:
        """422 with a reason the user can act on; the password itself is never echoed."""
        problems: list[str] = []
        if len(password) < self.settings.password_min_length:
            problems.append(f"at least {self.settings.password_min_length} characters")
        if len(password) > self.settings.password_max_length:
            problems.append(f"at most {self.settings.password_max_length} characters")
        if len(set(password)) < MIN_DISTINCT_CHARACTERS:
            problems.append(f"at least {MIN_DISTINCT_CHARACTERS} different characters")
        if password.strip().casefold() == email.casefold():
            problems.append("different from the email address")
        if problems:
            raise ProblemError(
                422,
                "the password must have " + ", ".join(problems),
                slug="weak-password",
                extra={
                    "errors": [
                        {"loc": ["body", "password"], "msg": p, "type": "weak_password"}
                        for p in problems
                    ]
                },
            )
