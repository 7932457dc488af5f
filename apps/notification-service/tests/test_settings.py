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
    "secrets_kek": "vGq4p8ZB1c9g1r0mH6l2m8o7n3Xz5eQk0aJd2wYtS1U=",
}


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"service_token": None}, "TASKPLANE_SERVICE_TOKEN"),
        ({"webhook_allow_loopback": True}, "TASKPLANE_WEBHOOK_ALLOW_LOOPBACK"),
        ({"smtp_host": "mail", "smtp_security": "none"}, "TASKPLANE_SMTP_SECURITY"),
        ({"smtp_host": "mail", "smtp_username": "u"}, "TASKPLANE_SMTP_PASSWORD"),
        ({"secrets_kek": "change-me-too"}, "TASKPLANE_SECRETS_KMS_KEY_ID is required"),
        ({"secrets_kek": "bm90IDMyIGJ5dGVz"}, "base64 of 32 random bytes"),
    ],
)
def test_weak_production_settings_are_refused(overrides: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(**{**PRODUCTION, **overrides})


def test_a_sound_production_configuration_is_accepted() -> None:
    settings = Settings(**PRODUCTION, smtp_host="mail", smtp_username="u", smtp_password="p")
    assert settings.port == 8004
    assert not settings.webhook_allow_loopback


def test_a_kms_key_or_a_keyring_file_stands_in_for_the_kek_value() -> None:
    for source in ({"secrets_kms_key_id": "alias/taskplane"}, {"secrets_kek_file": "/kek"}):
        values = {**PRODUCTION, "secrets_kek": "change-me-unused", **source}
        assert Settings(**values).environment == "production"
