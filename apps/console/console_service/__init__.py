"""The web console's backend-for-frontend: sessions, the API proxy and the built SPA."""

__version__ = "0.1.0"
