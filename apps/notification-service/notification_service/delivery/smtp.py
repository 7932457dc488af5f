"""The email channel: one SMTP transaction per delivery (plain text and HTML, rendered
when the event was routed). A server that is down or refuses is retried like a webhook.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from notification_service.config import Settings, SmtpSecurity
from notification_service.content import Email
from notification_service.delivery.outcome import AttemptResult


async def send_email(settings: Settings, email: Email) -> AttemptResult:
    """One SMTP transaction; a server that is down or refuses is retried later."""
    assert settings.smtp_host is not None
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
            use_tls=settings.smtp_security is SmtpSecurity.TLS,
            start_tls=settings.smtp_security is SmtpSecurity.STARTTLS,
            timeout=settings.smtp_timeout_s,
        )
    except aiosmtplib.SMTPResponseException as exc:
        return AttemptResult(False, status_code=exc.code, error=f"smtp: {exc.message}"[:500])
    except (aiosmtplib.SMTPException, OSError) as exc:
        return AttemptResult(False, error=f"smtp unavailable: {type(exc).__name__}")
    return AttemptResult(True, status_code=250)
