"""Shared settings: production refuses weak configuration; values are validated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from taskplane_common.db import async_database_url
from taskplane_common.settings import ServiceSettings


def test_production_needs_a_database_and_no_auth_bypass() -> None:
    with pytest.raises(ValidationError) as error:
        ServiceSettings(environment="production", auth_disabled=True)
    assert "DATABASE_URL is required" in str(error.value)
    assert "TASKPLANE_AUTH_DISABLED" in str(error.value)


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2-password@db/tp")
    settings = ServiceSettings()
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgres://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_database_urls_use_psycopg(url: str, expected: str) -> None:
    assert async_database_url(url) == expected


def test_other_drivers_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database driver"):
        async_database_url("mysql://u:p@h/d")
