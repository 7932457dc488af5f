"""taskplane auth-service: who you are, what you may do, and the keys that prove it."""

__version__ = "0.1.0"
