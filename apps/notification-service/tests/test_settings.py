"""Production mode refuses a configuration that would run weakly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from notification_service.config import Settings

PRODUCTION = {
    "environment": "production",
    "DATABASE_URL": "postgresql://db/taskplane",
    "jwks_url": "http://auth:8001/.well-known/jwks.json",
    "service_token": "tps_example",
}


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"service_token": None}, "TASKPLANE_SERVICE_TOKEN"),
        ({"webhook_allow_loopback": True}, "TASKPLANE_WEBHOOK_ALLOW_LOOPBACK"),
        ({"smtp_host": "mail", "smtp_security": "none"}, "TASKPLANE_SMTP_SECURITY"),
        ({"smtp_host": "mail", "smtp_username": "u"}, "TASKPLANE_SMTP_PASSWORD"),
    ],
)
def test_weak_production_settings_are_refused(overrides: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(**{**PRODUCTION, **overrides})


def test_a_sound_production_configuration_is_accepted() -> None:
    settings = Settings(**PRODUCTION, smtp_host="mail", smtp_username="u", smtp_password="p")
    assert settings.port == 8004
    assert not settings.webhook_allow_loopback
