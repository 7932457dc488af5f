"""Configuration: production refuses weak settings; development runs with defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from task_service.config import Settings


def test_production_refuses_defaults_and_auth_bypass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_ENVIRONMENT", "production")
    monkeypatch.setenv("TASKPLANE_AUTH_DISABLED", "true")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ValidationError) as error:
        Settings()
    message = str(error.value)
    assert "DATABASE_URL is required" in message
    assert "TASKPLANE_AUTH_DISABLED" in message
    assert "TASKPLANE_CURSOR_SECRET" in message


def test_production_accepts_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/taskplane")
    monkeypatch.setenv("TASKPLANE_CURSOR_SECRET", "s3cr3t-from-a-vault-0123456789")
    monkeypatch.setenv("TASKPLANE_JWKS_URL", "http://auth-service:8001/.well-known/jwks.json")
    settings = Settings()
    assert settings.is_production
    assert "s3cr3t" not in repr(settings), "secrets must not appear in reprs or logs"


def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_DB_POOL_SIZE", "-1")
    monkeypatch.setenv("TASKPLANE_LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert "db_pool_size" in str(error.value)
    assert "log_level" in str(error.value)
