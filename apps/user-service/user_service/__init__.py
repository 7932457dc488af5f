"""taskplane user-service: profiles, notification preferences and the user directory."""

__version__ = "0.1.0"
