"""taskplane notification-service: Standard Webhooks, email and in-app notifications."""

__version__ = "0.1.0"
